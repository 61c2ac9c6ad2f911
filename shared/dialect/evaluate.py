"""Measure a dialect predictor on labelled text: accuracy, macro-F1, per-class figures.

``load_labelled_tsv`` reads the evaluation file format (a header naming at least ``text``
and ``label``); ``evaluate`` runs any ``predict(text) -> label`` over it, so the CPU
detector, the LLM and the hybrid are measured the same way.
"""

import csv
import io
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from shared.dialect.labels import LABELS
from shared.errors import BadInput

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassReport:
    """Precision, recall and F1 for one label; ``support`` is its count in the gold data."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvalReport:
    """Figures for one run of a predictor over labelled pairs."""

    total: int
    accuracy: float
    macro_f1: float
    """Mean F1 over the labels present in the gold data."""
    per_class: list[ClassReport]
    """One row per label in the gold data or the predictions, in LABELS order."""
    confusion: dict[str, dict[str, int]]
    """``confusion[gold][predicted]`` counts, over the labels of ``per_class``."""

    def format(self) -> str:
        """A plain-text report: summary line, per-class table, confusion matrix."""
        labels = [row.label for row in self.per_class]
        lines = [
            f"sentences {self.total}  accuracy {self.accuracy:.3f}  macro-F1 {self.macro_f1:.3f}",
            "",
            f"{'label':<6}  {'precision':>9}  {'recall':>6}  {'F1':>5}  {'support':>7}",
        ]
        for row in self.per_class:
            lines.append(
                f"{_pad(row.label, 6)}  {row.precision:>9.3f}  {row.recall:>6.3f}  {row.f1:>5.3f}  {row.support:>7d}"
            )
        lines += [
            "",
            "confusion (rows gold, columns predicted)",
            _pad("", 6) + "".join(_pad(p, 8, right=True) for p in labels),
        ]
        for gold in labels:
            counts = "".join(f"{self.confusion[gold][predicted]:>8d}" for predicted in labels)
            lines.append(_pad(gold, 6) + counts)
        return "\n".join(lines)


def _pad(text: str, width: int, right: bool = False) -> str:
    # Han characters take two columns in a terminal; pad by display width, not length.
    shown = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    fill = " " * max(0, width - shown)
    return fill + text if right else text + fill


def load_labelled_tsv(path: str | Path) -> list[tuple[str, str]]:
    """Read ``(text, label)`` pairs from a UTF-8, tab-separated file with a header.

    Columns other than ``text`` and ``label`` are ignored. Raises BadInput, naming the
    problem and the line, for a missing file or column, an unknown label, an empty text,
    bytes that are not UTF-8, or a file with no rows.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from exc
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path} is not UTF-8 (bad byte at offset {exc.start})") from exc
    if not content.strip():
        raise BadInput(f"{path} is empty")

    # No quoting: sentences may contain quote characters that mean nothing to TSV.
    reader = csv.DictReader(io.StringIO(content), delimiter="\t", quoting=csv.QUOTE_NONE)
    columns = reader.fieldnames or []
    for needed in ("text", "label"):
        if needed not in columns:
            raise BadInput(f"{path}: header has no '{needed}' column (found: {', '.join(columns) or 'nothing'})")

    pairs: list[tuple[str, str]] = []
    for line, row in enumerate(reader, start=2):
        text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
        if label not in LABELS:
            raise BadInput(f"{path}:{line}: unknown label {label!r}; expected one of {', '.join(LABELS)}")
        if not text:
            raise BadInput(f"{path}:{line}: empty text")
        pairs.append((text, label))
    if not pairs:
        raise BadInput(f"{path} has a header but no rows")
    return pairs


def evaluate(
    pairs: Iterable[tuple[str, str]],
    predict: Callable[[str], str],
    progress: Callable[[int], None] | None = None,
) -> EvalReport:
    """Run ``predict`` on every text and compare with the gold labels.

    ``progress`` is called with the number of texts done after each one. Raises BadInput
    when there are no pairs.
    """
    gold: list[str] = []
    predicted: list[str] = []
    for done, (text, label) in enumerate(pairs, start=1):
        gold.append(label)
        predicted.append(predict(text))
        if progress is not None:
            progress(done)
    if not gold:
        raise BadInput("nothing to evaluate: no labelled sentences")
    return _report(gold, predicted)


def _report(gold: list[str], predicted: list[str]) -> EvalReport:
    present = set(gold)
    order = {label: i for i, label in enumerate(LABELS)}
    # Known labels in LABELS order; anything else a predictor invents goes last.
    labels = sorted(present | set(predicted), key=lambda label: (order.get(label, len(LABELS)), label))
    pair_counts = Counter(zip(gold, predicted, strict=True))
    confusion = {g: {p: pair_counts[(g, p)] for p in labels} for g in labels}
    gold_counts, predicted_counts = Counter(gold), Counter(predicted)

    per_class = []
    for label in labels:
        correct = pair_counts[(label, label)]
        precision = correct / predicted_counts[label] if predicted_counts[label] else 0.0
        recall = correct / gold_counts[label] if gold_counts[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(ClassReport(label, precision, recall, f1, gold_counts[label]))

    # Labels only predicted, never gold, lower precision elsewhere but get no F1 of their own.
    macro_f1 = sum(row.f1 for row in per_class if row.label in present) / len(present)
    accuracy = sum(pair_counts[(label, label)] for label in labels) / len(gold)
    logger.info("evaluated %d sentences: accuracy %.3f, macro-F1 %.3f", len(gold), accuracy, macro_f1)
    return EvalReport(len(gold), accuracy, macro_f1, per_class, confusion)
