"""A dialect job's answer as it is stored and the API returns it (`DialectAnswer`, shared/jobs/contracts.py),
from the CPU detector's result alone or combined with the LLM's label."""

from shared.dialect.detector import DialectResult
from shared.dialect.hybrid import HybridResult
from shared.jobs.contracts import DialectAnswer, TokenUsage


def cpu_answer(result: DialectResult) -> DialectAnswer:
    """The CPU detector's answer alone (no LLM is configured, or none was asked)."""
    return _answer(result, cpu_reason(result))


def hybrid_answer(result: HybridResult, model: str, usage: TokenUsage | None = None) -> DialectAnswer:
    """The CPU detector's evidence combined with the LLM's label (`shared.dialect.hybrid`)."""
    return _answer(result.cpu, result.reason).model_copy(
        update={
            "label": result.label,
            "confidence": round(result.confidence, 4),
            "decided_by": result.decided_by,
            "cpu_label": result.cpu.label,
            "llm_label": result.llm_label,
            "llm_error": result.llm_error,
            "usage": usage,
            "model": model,
        }
    )


def _answer(result: DialectResult, reason: str) -> DialectAnswer:
    # Validated, not constructed: the detector holds its labels as plain str (one of LABELS).
    return DialectAnswer.model_validate(
        {
            "label": result.label,
            "confidence": round(result.confidence, 4),
            "decided_by": "cpu",
            "reason": reason,
            "evidence": [
                {
                    "marker": e.marker,
                    "matched": e.matched,
                    "label": e.label,
                    "weight": e.weight,
                    "start": e.start,
                    "end": e.end,
                }
                for e in result.evidence
            ],
            "scores": {label: round(p, 4) for label, p in result.scores.items()},
        }
    )


def cpu_reason(result: DialectResult) -> str:
    if not result.evidence:
        return "No dialect markers were found; the text reads as 普通话."
    markers = "、".join(dict.fromkeys(e.matched for e in result.evidence if e.label == result.label))
    if result.label == "普通话":
        return "Only weak dialect markers were found; the text reads as 普通话."
    return f"{result.label} markers: {markers}."
