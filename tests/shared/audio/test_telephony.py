"""Telephone audio: G.711 at 8 kHz, band-limited before the rate drops, its silent ends trimmed."""

import numpy as np
import pytest

from shared.audio.codec import Audio, encode, extension, resample
from shared.audio.telephony import RATE, trim_silence
from shared.config import get_settings
from tests.shared.g711 import band_energy_db, decode_raw, decoded

SOURCE_RATE = 22_050  # espeak-ng's


def tones(*freqs: float, seconds: float = 1.0, silence_s: float = 0.5, rate: int = SOURCE_RATE) -> Audio:
    """Sine tones of equal level between two stretches of silence."""
    t = np.arange(int(rate * seconds)) / rate
    sound = sum(0.3 * np.sin(2 * np.pi * f * t) for f in freqs)
    quiet = np.zeros(int(rate * silence_s))
    return Audio(np.concatenate([quiet, sound, quiet]).astype(np.float32), rate)


@pytest.mark.parametrize("fmt", ["wav_ulaw_8k", "wav_alaw_8k", "ulaw_8k", "alaw_8k"])
def test_a_clip_becomes_8k_g711_as_long_as_its_sound_and_margins(fmt: str) -> None:
    margin_s = get_settings().trim_silence_margin_ms / 1000

    samples, rate = decoded(encode(tones(440), fmt), fmt)

    assert rate == 8000
    assert len(samples) / rate == pytest.approx(1.0 + 2 * margin_s, abs=0.011)  # 10 ms frames
    assert np.abs(samples[: int(0.02 * rate)]).max() < 0.01  # the margin is silence...
    assert np.abs(samples[int(0.04 * rate) : int(0.06 * rate)]).max() > 0.2  # ...and then the sound


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_the_bare_bytes_are_the_wav_files_samples(law: str) -> None:
    clip = tones(300, 1200)
    wav, _ = decoded(encode(clip, f"wav_{law}_8k"), f"wav_{law}_8k")
    raw = decode_raw(encode(clip, f"{law}_8k"), law)

    np.testing.assert_array_equal(raw, wav)  # one byte per sample, the same law as libsndfile's


def test_what_lies_above_4_khz_is_filtered_out_not_folded_into_the_band() -> None:
    """A 5 kHz tone cannot be carried at 8 kHz; without a filter it would come back at 3 kHz."""
    clip = tones(1100, 5000)  # not 1000: μ-law's own distortion puts its 3rd harmonic at 3 kHz

    samples, rate = decoded(encode(clip, "ulaw_8k"), "ulaw_8k")
    naive = resample(clip, RATE).samples  # linear interpolation, no filter

    assert band_energy_db(naive, rate, 2950, 3050) > -6  # the test can see aliasing...
    assert band_energy_db(samples, rate, 2950, 3050) < -45  # ...and there is none
    assert band_energy_db(samples, rate, 1050, 1150) > -1  # the 1.1 kHz tone is all that is left


def test_trimming_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "trim_silence", False)

    samples, rate = decoded(encode(tones(440), "ulaw_8k"), "ulaw_8k")

    assert len(samples) / rate == pytest.approx(2.0, abs=0.001)


def test_the_threshold_decides_what_counts_as_silence() -> None:
    rate = 8000
    hum = np.full(rate, 0.001, dtype=np.float32)  # -60 dBFS
    voice = np.full(rate // 2, 0.1, dtype=np.float32)  # -20 dBFS
    clip = np.concatenate([hum, voice, hum])

    assert len(trim_silence(clip, rate, -50.0, 0)) == len(voice)
    assert len(trim_silence(clip, rate, -50.0, 30)) == len(voice) + 2 * 240
    assert len(trim_silence(clip, rate, -70.0, 0)) == len(clip)  # the hum is above -70 dBFS
    assert len(trim_silence(np.zeros(rate, dtype=np.float32), rate, -50.0, 30)) == rate  # all silence: kept


def test_file_names_use_the_usual_extensions() -> None:
    assert [extension(f) for f in ("wav", "wav_ulaw_8k", "wav_alaw_8k", "ulaw_8k", "alaw_8k")] == [
        "wav",
        "wav",
        "wav",
        "ul",
        "al",
    ]
