"""Combine the CPU detector's evidence with an LLM's constrained choice of label.

Policy, in order:
1. The LLM failed, or answered something that is not a label: the CPU answer stands.
2. Both agree: that label, with more confidence than either had alone.
3. The CPU found strong marker evidence: markers are facts in the text, so the CPU wins.
4. Otherwise (no or weak evidence): the LLM's reading of the whole sentence decides.
"""

from dataclasses import dataclass
from typing import Literal

from shared.dialect.detector import DialectResult
from shared.dialect.labels import LABELS, MANDARIN

STRONG_EVIDENCE = 4.0
"""Marker weight at which the CPU overrides the LLM: two clear markers or more, e.g.
佢 + 咗, never a single ambiguous word."""
LLM_ACCURACY = 0.75
"""How often the LLM's label is assumed right on its own; used for the confidence it
brings when it decides, and when it agrees with the CPU."""

DecidedBy = Literal["cpu", "llm", "agree"]


@dataclass(frozen=True)
class HybridResult:
    """The combined answer, which source decided it, and why."""

    label: str
    confidence: float
    decided_by: DecidedBy
    reason: str
    cpu: DialectResult
    llm_label: str | None = None
    llm_error: str | None = None


def combine(cpu: DialectResult, llm_label: str | None, llm_error: str | None = None) -> HybridResult:
    """Decide between the CPU detector's result and the LLM's label (pure function)."""
    llm = llm_label.strip() if llm_label else None

    if llm_error or not llm:
        problem = f"failed ({llm_error})" if llm_error else "gave no label"
        return HybridResult(
            cpu.label,
            cpu.confidence,
            "cpu",
            f"The LLM {problem}, so the CPU detector's answer stands.",
            cpu,
            llm_label,
            llm_error,
        )
    if llm not in LABELS:
        problem = f"answered {llm!r}, which is not one of the eight labels"
        return HybridResult(
            cpu.label,
            cpu.confidence,
            "cpu",
            f"The LLM {problem}, so the CPU detector's answer stands.",
            cpu,
            llm_label,
            problem,
        )

    if llm == cpu.label:
        # Two partly independent readings agree: the chance both are wrong shrinks.
        confidence = 1 - (1 - cpu.confidence) * (1 - LLM_ACCURACY)
        return HybridResult(llm, confidence, "agree", f"The CPU markers and the LLM both say {llm}.", cpu, llm_label)

    if cpu.label != MANDARIN and cpu.strength >= STRONG_EVIDENCE:
        markers = "、".join(dict.fromkeys(e.matched for e in cpu.evidence if e.label == cpu.label))
        return HybridResult(
            cpu.label,
            cpu.confidence,
            "cpu",
            f"Strong {cpu.label} markers ({markers}) outweigh the LLM's {llm}.",
            cpu,
            llm_label,
        )

    # The LLM decides; it is less sure when the CPU saw some evidence against it.
    against = cpu.strength if cpu.label != MANDARIN else 0.0
    confidence = LLM_ACCURACY * (1 - against / (2 * STRONG_EVIDENCE))
    if cpu.label == MANDARIN and not cpu.evidence:
        reason = f"No dialect markers were found, so the LLM's reading ({llm}) decides."
    elif cpu.label == MANDARIN:
        reason = f"Only weak dialect markers were found, so the LLM's reading ({llm}) decides."
    else:
        reason = f"The {cpu.label} evidence is weak, so the LLM's reading ({llm}) decides."
    return HybridResult(llm, confidence, "llm", reason, cpu, llm_label)
