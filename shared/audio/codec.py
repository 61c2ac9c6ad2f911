"""Audio in memory: encode, decode, check, join. Mono float32 samples throughout."""

import io
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from shared.audio import telephony
from shared.errors import BadInput, EngineUnavailable, PermanentEngineError

# Formats a client may ask for, with the soundfile (libsndfile) container and subtype; the
# telephone formats (G.711 at 8 kHz) are resampled and trimmed first (shared/audio/telephony.py).
FORMATS: dict[str, tuple[str, str | None]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    **telephony.FORMATS,
}
MEDIA_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    **telephony.MEDIA_TYPES,
}
STORAGE_FORMAT = "flac"  # lossless and about half the size of WAV


def extension(fmt: str) -> str:
    """The file name extension of a format's files (wav_ulaw_8k → wav, ulaw_8k → ul)."""
    return telephony.EXTENSIONS.get(fmt, fmt)


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # float32, mono, in [-1, 1]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def encode(audio: Audio, fmt: str = STORAGE_FORMAT) -> bytes:
    if fmt not in FORMATS:
        raise BadInput(f"unknown audio format {fmt!r}; use one of {', '.join(FORMATS)}")
    container, subtype = FORMATS[fmt]
    if fmt in telephony.FORMATS:
        audio = for_telephone(audio)
    samples = audio.samples
    if subtype == "PCM_16":
        # Our own rounding to 16 bits, with clipping, is cheaper than libsndfile's, and gives
        # back a 16-bit engine's (espeak-ng's) samples exactly: decode divides by 32768.
        samples = np.clip(np.rint(samples * np.float32(32768)), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, samples, audio.sample_rate, format=container, subtype=subtype)
    return buf.getvalue()


def to_aac(flac: bytes) -> bytes:
    """AAC in ADTS (OpenAI's `aac`), by ffmpeg: libsndfile writes no AAC. EngineUnavailable (503)
    where ffmpeg is not installed."""
    path = shutil.which("ffmpeg")
    if path is None:
        raise EngineUnavailable("the aac format needs ffmpeg on the API's host (Debian: apt-get install ffmpeg)")
    command = [path, "-hide_banner", "-loglevel", "error", "-i", "pipe:0", "-c:a", "aac", "-b:a", "64k", "-f", "adts"]
    done = subprocess.run([*command, "pipe:1"], input=flac, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make AAC: {done.stderr.decode(errors='replace')[-500:]}")
    return done.stdout


def for_telephone(audio: Audio) -> Audio:
    """The clip as a telephone prompt: its ends' silence trimmed, band-limited to 8 kHz."""
    return Audio(telephony.for_telephone(audio.samples, audio.sample_rate), telephony.RATE)


def decode(data: bytes) -> Audio:
    """Decode any container libsndfile reads; several channels are mixed down to mono."""
    if not data:
        raise BadInput("audio is empty")
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise BadInput(f"not a decodable audio file ({exc})") from None
    if samples.ndim == 2:
        samples = samples.mean(axis=1, dtype=np.float32)
    return Audio(samples, int(rate))


def resample(audio: Audio, rate: int) -> Audio:
    """Linear-interpolation resampling: enough for joining speech of different engines."""
    if audio.sample_rate == rate or len(audio.samples) == 0:
        return audio
    n = round(len(audio.samples) * rate / audio.sample_rate)
    x_new = np.linspace(0, len(audio.samples) - 1, n)
    samples = np.interp(x_new, np.arange(len(audio.samples)), audio.samples).astype(np.float32)
    return Audio(samples, rate)


def join(parts: list[Audio], pause_ms: int) -> Audio:
    """Concatenate clips with a short silence between them, at the first clip's rate."""
    if not parts:
        raise BadInput("nothing to join")
    rate = parts[0].sample_rate
    silence = np.zeros(int(rate * pause_ms / 1000), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            pieces.append(silence)
        pieces.append(resample(part, rate).samples)
    return Audio(np.concatenate(pieces), rate)


# Speech rates bound what a plausible clip is: Mandarin is read at roughly 3-6 syllables
# (characters) a second; the bounds below are wide on purpose so that only broken output
# (silence, truncation, runaway generation) is rejected.
_MIN_S_PER_CHAR = 0.03
_MAX_S_PER_CHAR = 1.5
_MIN_PEAK = 1e-3


def check_speech(text: str, audio: Audio) -> None:
    """Raise PermanentEngineError unless the clip is non-empty, audible and of plausible length."""
    spoken = sum(1 for ch in text if ch.isalnum())
    if len(audio.samples) == 0:
        raise PermanentEngineError("engine returned no audio")
    if float(np.max(np.abs(audio.samples))) < _MIN_PEAK:
        raise PermanentEngineError("engine returned silence")
    low = max(0.1, spoken * _MIN_S_PER_CHAR)
    high = 2.0 + spoken * _MAX_S_PER_CHAR
    if not low <= audio.duration_s <= high:
        raise PermanentEngineError(
            f"implausible duration {audio.duration_s:.2f}s for {spoken} characters (expected {low:.2f}-{high:.2f}s)"
        )
