"""Speaking rate for engines without a rate control: time-stretch with sox, pitch kept."""

import logging
import subprocess

from shared.audio.codec import Audio, decode, encode
from shared.errors import BadInput, PermanentEngineError

logger = logging.getLogger(__name__)

MIN_SPEED, MAX_SPEED = 0.25, 4.0  # the range OpenAI's speech API accepts
_TIMEOUT_S = 60


def change_tempo(audio: Audio, speed: float, sox_binary: str = "sox") -> Audio:
    """``speed`` 2.0 halves the duration. sox ``tempo`` (WSOLA) keeps the pitch, unlike resampling."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise BadInput(f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}")
    if speed == 1.0 or len(audio.samples) == 0:
        return audio
    # -s: tuned for speech. sox's tempo takes factors 0.1-10 in one pass.
    cmd = [sox_binary, "-q", "-t", "wav", "-", "-t", "wav", "-", "tempo", "-s", f"{speed:.4f}"]
    try:
        done = subprocess.run(cmd, input=encode(audio, "wav"), capture_output=True, timeout=_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise PermanentEngineError(f"{sox_binary} is not installed (apt-get install sox)") from None
    if done.returncode != 0:
        raise PermanentEngineError(f"sox tempo failed: {done.stderr.decode(errors='replace').strip()}")
    return decode(done.stdout)
