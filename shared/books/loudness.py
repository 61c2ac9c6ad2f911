"""Integrated loudness (ITU-R BS.1770-4, EBU R128) of a mono signal that arrives in pieces.

pyloudnorm measures a whole array; a book is measured as it streams past, one line at a
time, so that its length never decides the memory it takes. The K-weighting filters are
pyloudnorm's (their state carried from piece to piece), and the gating is BS.1770's: 400 ms
blocks overlapping by 75 %, an absolute gate at -70 LUFS and a relative one 10 LU below. What
is kept per block is one float per 100 ms step (a 10-hour book: 360,000 floats, 2.9 MB).
"""

import math
from array import array

import numpy as np
import scipy.signal
from pyloudnorm.iirfilter import IIRfilter

_ABSOLUTE_GATE = -70.0
_RELATIVE_GATE = -10.0
_STEPS_PER_BLOCK = 4  # 400 ms blocks in 100 ms steps: 75 % overlap


class LoudnessMeter:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        # BS.1770's K-weighting: a high shelf (the head's effect), then a high-pass (RLB).
        self._filters = [
            IIRfilter(4.0, 1 / math.sqrt(2), 1500.0, rate, "high_shelf"),
            IIRfilter(0.0, 0.5, 38.0, rate, "high_pass"),
        ]
        self._coefficients = [(f.b, f.a, f.passband_gain) for f in self._filters]
        self._state = [np.zeros(2) for _ in self._filters]
        self._steps = array("d")  # sum of squares of the K-weighted signal per finished 100 ms step
        self._partial = 0.0  # of the step in progress
        self._samples = 0
        self.peak = 0.0  # largest absolute sample

    def add(self, samples: np.ndarray) -> None:
        if len(samples) == 0:
            return
        self.peak = max(self.peak, float(np.max(np.abs(samples))))
        weighted = samples.astype(np.float64)
        for i, (b, a, gain) in enumerate(self._coefficients):
            weighted, self._state[i] = scipy.signal.lfilter(b, a, weighted, zi=self._state[i])
            weighted = weighted * gain
        squares = weighted * weighted
        start = self._samples
        end = start + len(squares)
        while (edge := self._step_end(len(self._steps))) <= end:
            self._steps.append(self._partial + float(squares[max(0, self._last_edge() - start) : edge - start].sum()))
            self._partial = 0.0
        self._partial += float(squares[max(0, self._last_edge() - start) :].sum())
        self._samples = end

    def _step_end(self, step: int) -> int:
        return (step + 1) * self.rate // 10

    def _last_edge(self) -> int:
        return len(self._steps) * self.rate // 10

    def integrated(self) -> float:
        """Integrated loudness in LUFS; -inf for silence or less than one 400 ms block."""
        steps = np.frombuffer(self._steps, dtype=np.float64)
        if len(steps) < _STEPS_PER_BLOCK:
            return -math.inf
        sums = np.convolve(steps, np.ones(_STEPS_PER_BLOCK), mode="valid")
        blocks = sums / (0.4 * self.rate)  # mean square of each 400 ms block
        with np.errstate(divide="ignore"):
            loudness = -0.691 + 10 * np.log10(blocks)
        above = blocks[loudness >= _ABSOLUTE_GATE]
        if len(above) == 0:
            return -math.inf
        relative = -0.691 + 10 * math.log10(float(np.mean(above))) + _RELATIVE_GATE
        gated = blocks[(loudness > relative) & (loudness > _ABSOLUTE_GATE)]
        if len(gated) == 0:
            return -math.inf
        return -0.691 + 10 * math.log10(float(np.mean(gated)))


def gain_db(measured_lufs: float, target_lufs: float) -> float:
    """The gain that takes a measured loudness to the target; none for silence."""
    return 0.0 if math.isinf(measured_lufs) else target_lufs - measured_lufs
