"""Telephone audio: G.711 (μ-law, A-law) at 8 kHz, for IVR prompts and call-centre systems.

Speech is made at 22.05 kHz (espeak-ng) or 44.1 kHz (Fish Speech). A telephone line carries
8 kHz, so everything above 4 kHz must be filtered out before the rate drops, or it folds back
into the band as noise (aliasing). The resampler is libsoxr's (python-soxr), a band-limited
polyphase filter; the G.711 encoding itself is libsndfile's (soundfile's ULAW/ALAW subtypes),
the standard tables, in a WAV container or as headerless bytes.

A prompt is played the moment a call reaches it, so silence at either end is dead air: it is
trimmed (VOXQ_TRIM_SILENCE, VOXQ_TRIM_SILENCE_DB), keeping a short margin so that the first
and last sounds are not clipped.
"""

import numpy as np
import soxr

from shared.config import get_settings

RATE = 8_000
# Format name -> (libsndfile container, subtype). RAW is the bare G.711 bytes, one per sample.
FORMATS: dict[str, tuple[str, str]] = {
    "wav_ulaw_8k": ("WAV", "ULAW"),
    "wav_alaw_8k": ("WAV", "ALAW"),
    "ulaw_8k": ("RAW", "ULAW"),
    "alaw_8k": ("RAW", "ALAW"),
}
# RFC 4856 registers the raw G.711 streams as audio/PCMU and audio/PCMA.
MEDIA_TYPES: dict[str, str] = {
    "wav_ulaw_8k": "audio/wav",
    "wav_alaw_8k": "audio/wav",
    "ulaw_8k": "audio/PCMU;rate=8000",
    "alaw_8k": "audio/PCMA;rate=8000",
}
# File name extensions: sox's names for bare 8 kHz μ-law and A-law (`play prompt.ul` plays one).
EXTENSIONS: dict[str, str] = {"wav_ulaw_8k": "wav", "wav_alaw_8k": "wav", "ulaw_8k": "ul", "alaw_8k": "al"}
_FRAME_MS = 10  # loudness is measured over frames this long


def trim_silence(samples: np.ndarray, rate: int, threshold_dbfs: float, margin_ms: float) -> np.ndarray:
    """`samples` without the silence at either end: everything before the first and after the
    last frame whose RMS level is above `threshold_dbfs` (0 dBFS = full scale), less a margin.
    A clip that is silent throughout is returned as it is."""
    frame = max(1, rate * _FRAME_MS // 1000)
    frames = len(samples) // frame
    if frames == 0:
        return samples
    power = np.mean(np.square(samples[: frames * frame].reshape(frames, frame), dtype=np.float64), axis=1)
    loud = np.flatnonzero(power > 10.0 ** (threshold_dbfs / 10.0))
    if len(loud) == 0:
        return samples
    margin = round(rate * margin_ms / 1000)
    start = max(0, loud[0] * frame - margin)
    end = min(len(samples), (loud[-1] + 1) * frame + margin)
    return samples[start:end]


def resample(samples: np.ndarray, rate: int, new_rate: int = RATE) -> np.ndarray:
    """Band-limited resampling (soxr "HQ": the pass band is flat to 91% of the new Nyquist
    frequency, and what lies above it is attenuated by over 100 dB before decimation)."""
    if rate == new_rate or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples.astype(np.float32, copy=False), rate, new_rate, quality="HQ")


def for_telephone(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono float samples at `rate` as a telephone prompt: trimmed (unless VOXQ_TRIM_SILENCE
    is off), then at 8 kHz and within [-1, 1] for the G.711 encoder."""
    settings = get_settings()
    if settings.trim_silence:
        samples = trim_silence(samples, rate, settings.trim_silence_db, settings.trim_silence_margin_ms)
    return np.clip(resample(samples, rate), -1.0, 1.0)
