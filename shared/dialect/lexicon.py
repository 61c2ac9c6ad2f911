"""How standard a text's words are, measured against a Mandarin word list with frequencies.

The list is jieba's ``dict.txt`` (about 350,000 words with counts from a large standard
Mandarin corpus). A text is cut into the most probable sequence of listed words, the way
jieba does without its HMM, and each character is charged the surprisal of the word it
falls in. Written standard Mandarin is mostly common words; a dialect sentence, even one
that shows a single dialect word in Mandarin surroundings, leaves words the list does not
have, or has only as rare words, and so costs more per character.

Rarity is evidence that a text is *not standard Mandarin*, never evidence for one dialect:
the detector uses it only to lower Mandarin's score, so that the dialect markers present,
even weak ones, decide. The list also tells when a Southwestern word shape (a reduplicated
noun such as 盆盆, a 儿 word such as 刀儿) is not a standard word; see ``unlisted_forms``.
"""

import logging
import math
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

logger = logging.getLogger(__name__)

MAX_WORD = 6
"""Longest word tried when cutting; longer list entries are idioms that change little."""
UNLISTED_COUNT = 0.5
"""Count given to a single character the list lacks, so it still has a finite cost."""
LISTED_MIN_COUNT = 50
"""A word with fewer occurrences than this in the list counts as not standard."""

_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
_REDUPLICATED = re.compile(r"([\u4e00-\u9fff])\1儿?")
_ER_WORD = re.compile(r"[\u4e00-\u9fff]{1,2}儿")
_INTENSIFIED = re.compile(r"[梆邦][硬重]|稀[脏嫩湿碎耙软]|溜[酸尖]|飞[烫辣咸]|焦[苦湿]|黢黑|齁[咸甜]")
"""State adjectives made with an intensifying prefix (梆硬 'rock hard', 溜酸 'very sour',
飞烫 'scalding', 黢黑 'pitch black'), a word shape Southwestern Mandarin grammars describe.
Only prefix and adjective pairs that standard Mandarin does not build with a verb are
listed (not 拍满, 泡软); a pair the word list knows as standard is skipped."""


@dataclass(frozen=True)
class Lexicon:
    """Surprisal in nats, -ln(count / total), of every listed word."""

    costs: dict[str, float]
    unlisted_cost: float

    def cost(self, word: str) -> float:
        return self.costs.get(word, self.unlisted_cost if len(word) == 1 else math.inf)

    def is_standard(self, word: str) -> bool:
        """Whether ``word`` is listed with at least ``LISTED_MIN_COUNT`` occurrences."""
        return self.costs.get(word, math.inf) <= self._rare_cost

    @property
    def _rare_cost(self) -> float:
        return self.unlisted_cost - math.log(LISTED_MIN_COUNT / UNLISTED_COUNT)

    def cut(self, run: str) -> list[str]:
        """The most probable split of a run of Han characters into listed words; a
        character the list lacks stands alone."""
        n = len(run)
        best = [0.0] * (n + 1)
        back = [0] * (n + 1)
        costs = self.costs
        for end in range(1, n + 1):
            top, top_start = best[end - 1] + costs.get(run[end - 1], self.unlisted_cost), end - 1
            for start in range(max(0, end - MAX_WORD), end - 1):
                cost = costs.get(run[start:end])
                if cost is not None and best[start] + cost < top:
                    top, top_start = best[start] + cost, start
            best[end], back[end] = top, top_start
        words: list[str] = []
        end = n
        while end:
            words.append(run[back[end] : end])
            end = back[end]
        return words[::-1]

    def mean_surprisal(self, text: str) -> float:
        """Surprisal per Han character of ``text`` (simplified script), 0 without any."""
        chars = 0
        total = 0.0
        for run in _HAN_RUN.findall(text):
            total += sum(self.cost(word) for word in self.cut(run))
            chars += len(run)
        return total / chars if chars else 0.0

    def unlisted_forms(self, text: str) -> list[tuple[int, int, str]]:
        """Spans of word shapes typical of Southwestern Mandarin that the list does not
        know as standard words: a reduplicated syllable (盆盆, 缝缝儿), a state adjective
        with an intensifying prefix (梆硬) and a 儿 word. Each is ``(start, end, kind)``
        with kind ``"reduplication"``, ``"intensified"`` or ``"er"``."""
        found = [
            (m.start(), m.end(), "reduplication")
            for m in _REDUPLICATED.finditer(text)
            if not self._inside_standard_word(text, m.start(), m.start() + 2)
        ]
        taken = {i for start, end, _ in found for i in range(start, end)}
        for m in _INTENSIFIED.finditer(text):
            if taken.intersection(range(m.start(), m.end())) or self._inside_standard_word(text, m.start(), m.end()):
                continue
            # 飞干 in 起飞干嘛 is two words' edges, not one adjective.
            if {m.start(), m.end()} <= self.word_boundaries(text):
                found.append((m.start(), m.end(), "intensified"))
                taken.update(range(m.start(), m.end()))
        for m in _ER_WORD.finditer(text):
            # 花儿 as written, or 一点儿 whose last two characters are listed, is standard.
            if m.end() - 1 not in taken and not self._inside_standard_word(text, m.end() - 2, m.end()):
                found.append((m.start(), m.end(), "er"))
        return found

    def word_boundaries(self, text: str) -> set[int]:
        """Offsets in ``text`` where a word of the most probable cut starts or ends."""
        bounds: set[int] = set()
        for run in _HAN_RUN.finditer(text):
            offset = run.start()
            bounds.add(offset)
            for word in self.cut(run.group()):
                offset += len(word)
                bounds.add(offset)
        return bounds

    def _inside_standard_word(self, text: str, start: int, end: int) -> bool:
        """Whether text[start:end] is, or lies inside, a standard word of up to four
        characters: 妈妈, 慢吞吞, 吞吞吐吐, 一点儿."""
        for length in range(end - start, 5):
            for first in range(max(0, end - length), min(start, len(text) - length) + 1):
                if self.is_standard(text[first : first + length]):
                    return True
        return False


_LOAD_LOCK = threading.Lock()


def mandarin_lexicon() -> Lexicon:
    """jieba's word list, loaded once per process on first use (about half a second).

    Under a lock: an LLM worker starts dozens of threads at once, and without it every one
    of them would build its own copy, each holding the GIL (seen: 18 s for 32 threads).
    """
    with _LOAD_LOCK:
        return _load_lexicon()


@lru_cache(maxsize=1)
def _load_lexicon() -> Lexicon:
    counts: dict[str, int] = {}
    with resources.files("jieba").joinpath("dict.txt").open(encoding="utf-8") as lines:
        for line in lines:
            word, count, *_ = line.split(" ")
            if len(word) <= MAX_WORD and _HAN_RUN.fullmatch(word):
                counts[word] = counts.get(word, 0) + int(count)
    total = math.log(sum(counts.values()))
    logger.info("loaded %d Mandarin words for the lexical rarity measure", len(counts))
    return Lexicon(
        {word: total - math.log(count or UNLISTED_COUNT) for word, count in counts.items()},
        total - math.log(UNLISTED_COUNT),
    )
