"""Finds every marker in a text: one pass for all literal words, one per construction.

Literal words are joined into a single regex inside a lookahead, so each position yields
its longest word in one scan; constructions (regex markers) are scanned one by one.
Overlapping hits are then resolved longest-first, so 勿晓得 counts once, not also as 晓得.
"""

import re
from collections import defaultdict
from dataclasses import dataclass

from shared.dialect.markers import MARKERS, Marker
from shared.dialect.script import to_simplified


@dataclass(frozen=True)
class Hit:
    """One marker found in the normalised text, for one label."""

    label: str
    marker: Marker
    start: int
    end: int


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    owners: tuple[tuple[str, Marker], ...]


class MarkerMatcher:
    """Compiled form of a marker table; build once, call ``find`` many times."""

    def __init__(self, markers: dict[str, list[Marker]]) -> None:
        literal_owners: dict[str, list[tuple[str, Marker]]] = defaultdict(list)
        pattern_owners: dict[str, list[tuple[str, Marker]]] = defaultdict(list)
        written_owners: dict[str, list[tuple[str, Marker]]] = defaultdict(list)
        for label, label_markers in markers.items():
            for marker in label_markers:
                if marker.as_written:
                    written_owners[marker.pattern or re.escape(marker.text)].append((label, marker))
                # Other markers meet the text in simplified script, like the text itself.
                elif marker.is_pattern:
                    pattern_owners[to_simplified(marker.pattern)].append((label, marker))
                else:
                    literal_owners[to_simplified(marker.text)].append((label, marker))

        self._literal_owners = {word: tuple(owners) for word, owners in literal_owners.items()}
        # Longest first, so the alternation prefers 佢哋 to 佢 at the same position.
        words = sorted(self._literal_owners, key=len, reverse=True)
        self._literals = re.compile("(?=(" + "|".join(map(re.escape, words)) + "))") if words else None
        self._patterns = [(re.compile(p), tuple(owners)) for p, owners in pattern_owners.items()]
        self._written = [(re.compile(p), tuple(owners)) for p, owners in written_owners.items()]

    def find(self, text: str, as_written: str | None = None) -> list[Hit]:
        """All non-overlapping marker hits in ``text`` (normalised), in text order.

        ``as_written`` is the same text before conversion to simplified script; markers
        flagged ``as_written`` look there. Its spans are used for ``text`` too, which
        holds because t2s converts character for character; when lengths differ those
        markers are skipped rather than reported at wrong positions.
        """
        candidates: list[_Candidate] = []
        if as_written is not None and len(as_written) == len(text):
            for regex, owners in self._written:
                for match in regex.finditer(as_written):
                    if match.end() > match.start():
                        candidates.append(_Candidate(match.start(), match.end(), owners))
        if self._literals is not None:
            for match in self._literals.finditer(text):
                word = match.group(1)
                start = match.start()
                candidates.append(_Candidate(start, start + len(word), self._literal_owners[word]))
        for regex, owners in self._patterns:
            for match in regex.finditer(text):
                if match.end() > match.start():
                    candidates.append(_Candidate(match.start(), match.end(), owners))
        return _resolve(candidates)


def _resolve(candidates: list[_Candidate]) -> list[Hit]:
    """Keep non-overlapping spans, longest first, then heaviest: in 做啥子 the Sichuanese
    啥子 beats the shorter-or-lighter 做啥. On a kept span each label keeps its heaviest
    marker, so one word never counts twice for the same label."""
    candidates.sort(key=lambda c: (-(c.end - c.start), -max(m.weight for _, m in c.owners), c.start))
    kept: dict[tuple[int, int], dict[str, Marker]] = {}
    taken: set[int] = set()
    for candidate in candidates:
        span = (candidate.start, candidate.end)
        best = kept.get(span)
        if best is None:
            if any(i in taken for i in range(candidate.start, candidate.end)):
                continue
            taken.update(range(candidate.start, candidate.end))
            best = kept[span] = {}
        for label, marker in candidate.owners:
            if label not in best or marker.weight > best[label].weight:
                best[label] = marker
    return [
        Hit(label, marker, start, end) for (start, end), best in sorted(kept.items()) for label, marker in best.items()
    ]


DEFAULT_MATCHER = MarkerMatcher(MARKERS)
"""The matcher for the built-in marker table; compiled at import, shared by all callers."""
