"""The embedded engine: libespeak-ng inside the worker's own process. No GPU, no model, no cloning.

The library and its data come from the `espeakng-loader` wheel (espeak-ng 1.52 with its
espeak-ng-data), so every machine speaks the same and a fresh clone needs no system package:
Debian's 1.51 reads Mandarin with its own tone digits spoken as English ("three" for 你好).
VOXQ_ESPEAK_LIBRARY names another build; its data is then the library's own default, or the
folder ESPEAK_DATA_PATH names.

The library is driven through ctypes (declarations from espeak-ng's ``speak_lib.h``) in
synchronous mode: ``espeak_Synth`` returns once the whole text is spoken, having handed
every block of 16-bit samples to our callback. The library keeps one global state per
process and is not thread-safe, so every call into it holds one lock; a prefork worker has
one engine per process anyway. It is initialised on first use, in the process that speaks
(never in a parent that forks afterwards).
"""

import ctypes
import logging
import os
import threading
import time

import espeakng_loader
import numpy as np

from shared.audio.codec import Audio
from shared.errors import BadInput, PermanentEngineError, RetryableEngineError
from shared.voices.resolve import ESPEAK_VOICES, VoiceSpec

logger = logging.getLogger(__name__)

_DEFAULT_WPM = 175  # espeakRATE_NORMAL: espeak-ng's own default speaking rate
_MIN_WPM, _MAX_WPM = 80, 450  # espeakRATE_MINIMUM, espeakRATE_MAXIMUM
_TIMEOUT_S = 60  # a chunk that takes longer is aborted (the CLI had the same limit)
_BUFFER_MS = 1000  # audio per callback: fewer, larger blocks than the default 60 ms

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # without it, missing voice data calls exit() in our process
_POS_CHARACTER = 1
_CHARS_UTF8 = 1  # espeakCHARS_UTF8
_RATE = 1  # espeak_PARAMETER espeakRATE
_EE_OK = 0
# The same flags as `espeak-ng -b 1 --stdout`: UTF-8 text, [[...]] read as phonemes, and a
# sentence pause at the end, so that the audio matches the command line's.
_SYNTH_FLAGS = 0x1 | 0x100 | 0x1000  # espeakCHARS_UTF8 | espeakPHONEMES | espeakENDPAUSE

# int SynthCallback(short *wav, int numsamples, espeak_EVENT *events); 0 = go on, 1 = abort.
_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)

_lock = threading.Lock()  # every call into any loaded libespeak-ng
_libraries: dict[str, "_Library"] = {}  # one per library path and process


class _Library:
    """libespeak-ng, initialised: the voice and rate it is set to, and the samples of the call in progress."""

    def __init__(self, path: str) -> None:
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise PermanentEngineError(f"libespeak-ng is not loadable from {path!r}: {exc}") from None
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,  # text
            ctypes.c_size_t,  # size
            ctypes.c_uint,  # position
            ctypes.c_int,  # position_type
            ctypes.c_uint,  # end_position
            ctypes.c_uint,  # flags
            ctypes.c_void_p,  # unique_identifier
            ctypes.c_void_p,  # user_data
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        data = data_path(path)
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data.encode() if data else None, _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise PermanentEngineError(f"libespeak-ng ({path}) could not load its data (espeak-ng-data at {data})")
        self.lib = lib
        self.sample_rate = rate
        self.blocks: list[bytes] = []
        self.deadline = 0.0
        self.voice: str | None = None
        self.wpm: int | None = None
        self._callback = _SynthCallback(self._collect)  # kept referenced: the library holds a pointer
        lib.espeak_SetSynthCallback(self._callback)
        logger.info("libespeak-ng loaded from %s, %d Hz", path, rate)

    def _collect(self, wav: int | None, numsamples: int, events: int | None) -> int:
        if wav and numsamples > 0:
            self.blocks.append(ctypes.string_at(wav, numsamples * 2))
        return 1 if time.monotonic() > self.deadline else 0

    def set_voice(self, voice: str) -> None:
        """The caller holds `_lock`."""
        if voice != self.voice:
            self.voice = None
            if self.lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise PermanentEngineError(f"libespeak-ng could not load its voice {voice!r} (espeak-ng-data)")
            self.voice, self.wpm = voice, None

    def phonemes(self, text: str, voice: str) -> str:
        """What the voice makes of `text`, in espeak-ng's phoneme mnemonics, with "(en)" and the
        like where it switches language; the caller holds `_lock`."""
        self.set_voice(voice)
        data = ctypes.create_string_buffer(text.encode())
        cursor = ctypes.c_void_p(ctypes.addressof(data))
        clauses = []
        while cursor.value:  # the library moves it clause by clause, to NULL at the end
            if clause := self.lib.espeak_TextToPhonemes(ctypes.byref(cursor), _CHARS_UTF8, 0):
                clauses.append(clause.decode())
        return " ".join(clauses)

    def speak(self, text: str, voice: str, wpm: int) -> np.ndarray:
        """int16 samples of `text`; the caller holds `_lock`."""
        self.set_voice(voice)
        if wpm != self.wpm:
            self.lib.espeak_SetParameter(_RATE, wpm, 0)
            self.wpm = wpm
        data = text.encode()
        self.blocks = []
        self.deadline = time.monotonic() + _TIMEOUT_S
        try:
            status = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _SYNTH_FLAGS, None, None)
            if time.monotonic() > self.deadline:
                raise RetryableEngineError(f"espeak-ng took over {_TIMEOUT_S}s")
            if status != _EE_OK:
                raise PermanentEngineError(f"espeak-ng failed to speak (espeak_Synth returned {status})")
            return np.frombuffer(b"".join(self.blocks), dtype=np.int16)
        finally:
            self.blocks = []


def _library(path: str) -> _Library:
    """The process's library for `path`, loaded and initialised once; the caller holds `_lock`."""
    if (lib := _libraries.get(path)) is None:
        lib = _libraries[path] = _Library(path)
    return lib


def default_library() -> str:
    """The espeakng-loader wheel's libespeak-ng."""
    return espeakng_loader.get_library_path()


def data_path(library: str) -> str | None:
    """The espeak-ng-data folder for `library`: the wheel's beside its own library; for another
    build, the folder ESPEAK_DATA_PATH names, or None (the build's own default)."""
    if library == default_library():
        return espeakng_loader.get_data_path()
    return os.environ.get("ESPEAK_DATA_PATH") or None


class EspeakEngine:
    name = "espeak"

    def __init__(self, library: str | None = None) -> None:
        """`library`: path or soname of libespeak-ng; None: the espeakng-loader wheel's."""
        self.library = library or default_library()

    def phonemes(self, text: str, voice: str = "cmn") -> str:
        """What `voice` makes of `text` (espeak-ng's mnemonics, "(en)" where it switches language)."""
        with _lock:
            return _library(self.library).phonemes(text, voice)

    def synthesize(self, text: str, voice: VoiceSpec) -> Audio:
        if voice.is_cloned:
            raise PermanentEngineError("espeak-ng cannot clone voices; use the fish_speech engine")
        if voice.name not in ESPEAK_VOICES:
            raise BadInput(f"espeak-ng has no voice {voice.name!r}")
        wpm = max(_MIN_WPM, min(_MAX_WPM, round(_DEFAULT_WPM * voice.speed)))
        with _lock:
            lib = _library(self.library)
            samples = lib.speak(text, voice.name, wpm)
            rate = lib.sample_rate
        if len(samples) == 0:
            raise PermanentEngineError("espeak-ng gave no audio")
        return Audio(samples.astype(np.float32) / np.float32(32768), rate)
