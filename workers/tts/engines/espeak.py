"""The embedded engine: espeak-ng on the worker itself. No GPU, no model, no cloning."""

import logging
import subprocess

from shared.audio import Audio, decode
from shared.errors import BadInput, PermanentEngineError, RetryableEngineError
from shared.voices import ESPEAK_VOICES, VoiceSpec

logger = logging.getLogger(__name__)

_DEFAULT_WPM = 175  # espeak-ng's own default speaking rate
_TIMEOUT_S = 60


class EspeakEngine:
    name = "espeak"
    can_clone = False

    def __init__(self, binary: str = "espeak-ng") -> None:
        self.binary = binary

    def synthesize(self, text: str, voice: VoiceSpec) -> Audio:
        if voice.is_cloned:
            raise PermanentEngineError("espeak-ng cannot clone voices; use the fish_speech engine")
        if voice.name not in ESPEAK_VOICES:
            raise BadInput(f"espeak-ng has no voice {voice.name!r}")
        wpm = max(80, min(450, round(_DEFAULT_WPM * voice.speed)))
        # -b 1: the text is UTF-8; --stdout: a WAV on standard output; text on stdin so that
        # no text is ever read as an option.
        cmd = [self.binary, "-v", voice.name, "-s", str(wpm), "-b", "1", "--stdout"]
        try:
            done = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=_TIMEOUT_S, check=False)
        except FileNotFoundError:
            raise PermanentEngineError(f"{self.binary} is not installed (apt-get install espeak-ng)") from None
        except subprocess.TimeoutExpired:
            raise RetryableEngineError(f"espeak-ng took over {_TIMEOUT_S}s") from None
        if done.returncode != 0:
            raise PermanentEngineError(f"espeak-ng failed: {done.stderr.decode(errors='replace').strip()}")
        try:
            return decode(done.stdout)
        except BadInput as exc:
            raise PermanentEngineError(f"espeak-ng gave no audio: {exc}") from None
