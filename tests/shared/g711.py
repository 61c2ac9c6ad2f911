"""G.711 expansion written from ITU-T G.711 itself, to decode what the API sends with no help
from the library that encoded it."""

import io

import numpy as np
import soundfile as sf

RATE = 8_000  # G.711's


def ulaw_to_int16(data: bytes) -> np.ndarray:
    u = ~np.frombuffer(data, dtype=np.uint8)
    exponent = (u >> 4) & 0x07
    mantissa = (u & 0x0F).astype(np.int32)
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def alaw_to_int16(data: bytes) -> np.ndarray:
    a = np.frombuffer(data, dtype=np.uint8) ^ 0x55
    exponent = ((a >> 4) & 0x07).astype(np.int32)
    mantissa = (a & 0x0F).astype(np.int32)
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.int16)


def decode_raw(data: bytes, law: str) -> np.ndarray:
    """Bare G.711 bytes as float samples in [-1, 1]."""
    samples = ulaw_to_int16(data) if law == "ulaw" else alaw_to_int16(data)
    return samples.astype(np.float32) / 32768


def band_energy_db(samples: np.ndarray, rate: int, low_hz: float, high_hz: float) -> float:
    """Energy between two frequencies, in dB relative to the whole signal's."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    band = spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum()
    return float(10 * np.log10(band / spectrum.sum() + 1e-30))


def decoded(data: bytes, fmt: str) -> tuple[np.ndarray, int]:
    """The samples and rate of one telephone format, decoded as a telephone system would."""
    if fmt.startswith("wav_"):
        info = sf.info(io.BytesIO(data))
        assert (info.format, info.subtype) == ("WAV", "ULAW" if "ulaw" in fmt else "ALAW")
        samples, rate = sf.read(io.BytesIO(data), dtype="float32")
        return samples, rate
    return decode_raw(data, "ulaw" if fmt.startswith("ulaw") else "alaw"), RATE
