"""The CPU dialect detector: which of the eight varieties a written text is in.

Every marker found adds its weight to its variety. Mandarin has no markers; it scores a
baseline that grows slowly with the text's length, because a long text without a single
dialect marker is more surely Mandarin than a three-character one, and falls when the
text's words are rare in standard Mandarin (``lexicon``), because then the weak dialect
markers it has deserve more trust. Word shapes that Southwestern Mandarin builds freely
but the standard lexicon does not list (reduplicated nouns, 儿 words, state adjectives with
an intensifying prefix such as 梆硬) are Sichuanese markers. The scores are then turned into probabilities with a softmax, so ``confidence``
reads as a probability.
"""

import logging
import math
from collections import Counter
from dataclasses import dataclass, field

from shared.dialect.labels import LABELS, MANDARIN
from shared.dialect.lexicon import Lexicon, mandarin_lexicon
from shared.dialect.markers import Marker
from shared.dialect.matcher import DEFAULT_MATCHER, Hit, MarkerMatcher
from shared.dialect.script import count_han, prepare, to_simplified
from shared.errors import BadInput

logger = logging.getLogger(__name__)

MANDARIN_BASE = 1.2
"""Mandarin's score for a text with no Han characters; a weight-2 marker beats it."""
MANDARIN_PER_LOG_CHAR = 0.2
"""How fast Mandarin's score grows with ln(1 + Han characters): a 10-character text scores
about 1.7, a 1,000-character one about 2.6."""
NO_EVIDENCE_SCORE = -0.7
"""Score of a dialect without a single marker. Below zero because a variety that shows
no sign at all is less likely than one whose markers merely lost; set so that on the dev
set a 10-character text with no markers gets about the 0.6 probability of Mandarin that
such texts actually had."""
REPEAT_DECAY = 0.5
"""Each further hit of the same marker counts this fraction of the previous one, so a
repeated word can at most double its weight."""
STANDARD_SURPRISAL = 5.5
"""Surprisal per character (nats, ``lexicon.mean_surprisal``) up to which a text reads as
standard Mandarin: about the median of textbook Mandarin sentences."""
RARITY_WEIGHT = 1.5
"""How much Mandarin's score drops per nat of surprisal per character above the standard."""
MANDARIN_FLOOR = 0.9
"""Lowest score rarity can push Mandarin to: above any dialect without markers and below a
single weak marker (1.0), so unusual words alone never make a dialect win; they only let
the dialect markers present decide."""
RARITY_MIN_CHARS = 4
"""Han characters up to which rarity does not count: in so short a text one colloquial
word (蛮好) makes the whole look unusual."""
RARITY_FULL_CHARS = 8
"""Han characters from which rarity counts in full; between the two it grows linearly."""
SOUTHWESTERN = "四川话"
UNLISTED_MARKERS = {
    "reduplication": Marker(
        "AA (unlisted reduplication)",
        1.5,
        "reduplicated syllable that is no standard word, as in Southwestern 盆盆, 缝缝儿",
    ),
    "er": Marker("X儿 (unlisted 儿 word)", 1.0, "儿 word that is no standard word, common in Southwestern Mandarin"),
    "intensified": Marker(
        "prefix+adjective (unlisted)",
        2.0,
        "state adjective with an intensifying prefix that is no standard word, as in 梆硬, 溜酸",
    ),
}
"""Southwestern evidence found with the lexicon, by the kind ``unlisted_forms`` reports. An
intensified adjective is a clear shape, so it weighs as much as a MEDIUM marker."""


@dataclass(frozen=True)
class Evidence:
    """One marker that fired. ``start``/``end`` index ``DialectResult.text``."""

    marker: str
    matched: str
    label: str
    weight: float
    start: int
    end: int
    note: str = ""


@dataclass(frozen=True)
class DialectResult:
    """The detector's answer for one text."""

    label: str
    confidence: float
    """Probability-like value in [0, 1] for ``label``."""
    scores: dict[str, float]
    """Probability per label, in LABELS order; sums to 1."""
    evidence: list[Evidence] = field(default_factory=list)
    marker_weights: dict[str, float] = field(default_factory=dict)
    """Summed marker weight per label (0 when nothing fired); Mandarin is always 0."""
    text: str = ""
    """The normalised (simplified, NFKC) text that evidence spans refer to."""

    @property
    def strength(self) -> float:
        """Marker weight behind the chosen label; 0 for Mandarin."""
        return self.marker_weights.get(self.label, 0.0)


def mandarin_baseline(han_chars: int) -> float:
    """Mandarin's score for a text with this many Han characters."""
    return MANDARIN_BASE + MANDARIN_PER_LOG_CHAR * math.log1p(han_chars)


def rarity_penalty(lexicon: Lexicon, normalized: str, han_chars: int) -> float:
    """How far below its baseline Mandarin falls because the words are not standard."""
    excess = max(0.0, lexicon.mean_surprisal(normalized) - STANDARD_SURPRISAL)
    share = (han_chars - RARITY_MIN_CHARS) / (RARITY_FULL_CHARS - RARITY_MIN_CHARS)
    return RARITY_WEIGHT * excess * min(1.0, max(0.0, share))


def detect(text: str, matcher: MarkerMatcher = DEFAULT_MATCHER) -> DialectResult:
    """Identify the variety ``text`` is written in.

    Raises BadInput for empty or whitespace-only text.
    """
    if not text or not text.strip():
        raise BadInput("text to identify is empty")
    as_written = prepare(text)
    normalized = to_simplified(as_written)
    hits = matcher.find(normalized, as_written)
    lexicon = mandarin_lexicon()
    hits = sorted(hits + _unlisted_hits(lexicon, normalized, hits), key=lambda hit: hit.start)
    weights = _weights_per_label(hits)

    raw = {label: weights.get(label, NO_EVIDENCE_SCORE) for label in LABELS}
    han = count_han(normalized)
    raw[MANDARIN] = max(MANDARIN_FLOOR, mandarin_baseline(han) - rarity_penalty(lexicon, normalized, han))
    probabilities = _softmax(raw)
    # Ties go to the earlier label in LABELS, so Mandarin wins a tie with a dialect.
    label = max(LABELS, key=lambda name: (raw[name], -LABELS.index(name)))

    evidence = [
        Evidence(
            hit.marker.text,
            normalized[hit.start : hit.end],
            hit.label,
            hit.marker.weight,
            hit.start,
            hit.end,
            hit.marker.note,
        )
        for hit in hits
    ]
    logger.debug("dialect %s (%.2f) from %d markers", label, probabilities[label], len(evidence))
    return DialectResult(
        label=label,
        confidence=probabilities[label],
        scores=probabilities,
        evidence=evidence,
        marker_weights={name: weights.get(name, 0.0) for name in LABELS},
        text=normalized,
    )


def _unlisted_hits(lexicon: Lexicon, normalized: str, hits: list[Hit]) -> list[Hit]:
    """Southwestern word shapes the lexicon lacks, where no marker already matched."""
    taken = {i for hit in hits for i in range(hit.start, hit.end)}
    return [
        Hit(SOUTHWESTERN, UNLISTED_MARKERS[kind], start, end)
        for start, end, kind in lexicon.unlisted_forms(normalized)
        if not taken.intersection(range(start, end))
    ]


def _weights_per_label(hits: list[Hit]) -> dict[str, float]:
    counts = Counter((hit.label, hit.marker) for hit in hits)
    totals: dict[str, float] = {}
    for (label, marker), count in counts.items():
        # w + w/2 + w/4 + ...: repetition adds certainty, but not without bound.
        repeated = (1 - REPEAT_DECAY**count) / (1 - REPEAT_DECAY)
        totals[label] = totals.get(label, 0.0) + marker.weight * repeated
    return totals


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    top = max(scores.values())
    exps = {label: math.exp(score - top) for label, score in scores.items()}
    total = sum(exps.values())
    return {label: exps[label] / total for label in LABELS}
