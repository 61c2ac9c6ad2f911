"""The streamed loudness meter gives pyloudnorm's integrated loudness, whatever pieces it is fed."""

import numpy as np
import pyloudnorm
import pytest

from shared.books.loudness import LoudnessMeter, gain_db


@pytest.mark.parametrize("rate", [22050, 24000, 44100])
def test_a_signal_fed_in_uneven_pieces_measures_as_pyloudnorm_measures_it_whole(rate: int) -> None:
    rng = np.random.default_rng(rate)
    # Speech-like: bursts of noise at levels from near silence to loud, over 8 seconds.
    levels = np.repeat(rng.uniform(0.0005, 0.4, 80), rate // 10)
    signal = (rng.standard_normal(len(levels)) * levels).astype(np.float32)
    meter = LoudnessMeter(rate)

    at = 0
    while at < len(signal):
        size = int(rng.integers(1, rate))
        meter.add(signal[at : at + size])
        at += size

    whole = pyloudnorm.Meter(rate).integrated_loudness(signal.astype(np.float64))
    assert meter.integrated() == pytest.approx(whole, abs=1e-6)
    assert meter.peak == pytest.approx(float(np.max(np.abs(signal))))


def test_silence_has_no_loudness_and_gets_no_gain() -> None:
    meter = LoudnessMeter(22050)
    meter.add(np.zeros(22050 * 3, dtype=np.float32))

    assert meter.integrated() == -np.inf
    assert gain_db(meter.integrated(), -18.0) == 0.0
    assert gain_db(-23.5, -18.0) == pytest.approx(5.5)
