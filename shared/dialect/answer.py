"""A dialect answer as the JSON a job stores and the API returns."""

from typing import Any

from shared.dialect.detector import DialectResult
from shared.dialect.hybrid import HybridResult


def cpu_answer(result: DialectResult, reason: str) -> dict[str, Any]:
    """The CPU detector's answer alone (no LLM is configured, or none was asked)."""
    return {
        "label": result.label,
        "confidence": round(result.confidence, 4),
        "decided_by": "cpu",
        "reason": reason,
        "evidence": evidence(result),
        "scores": {label: round(p, 4) for label, p in result.scores.items()},
    }


def hybrid_answer(result: HybridResult) -> dict[str, Any]:
    return {
        **cpu_answer(result.cpu, result.reason),
        "label": result.label,
        "confidence": round(result.confidence, 4),
        "decided_by": result.decided_by,
        "cpu_label": result.cpu.label,
        "llm_label": result.llm_label,
        "llm_error": result.llm_error,
    }


def evidence(result: DialectResult) -> list[dict[str, Any]]:
    """Which markers fired, where (offsets into the simplified text), and for which variety."""
    return [
        {"marker": e.marker, "matched": e.matched, "label": e.label, "weight": e.weight, "start": e.start, "end": e.end}
        for e in result.evidence
    ]


def cpu_reason(result: DialectResult) -> str:
    if not result.evidence:
        return "No dialect markers were found; the text reads as 普通话."
    markers = "、".join(dict.fromkeys(e.matched for e in result.evidence if e.label == result.label))
    if result.label == "普通话":
        return "Only weak dialect markers were found; the text reads as 普通话."
    return f"{result.label} markers: {markers}."
