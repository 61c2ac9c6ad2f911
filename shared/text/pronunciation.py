"""A tenant's pronunciation lexicon: words that are to be said otherwise than an engine reads them.

An entry maps a word, as it is written in a text, to what is said instead, either

* a **respelling**: other characters (or words) that the engine reads right, such as
  ``VoxQueue → 沃克斯队列``; every engine is given the respelling, or
* a **reading** in pinyin with tone numbers (1-4, 5 for the neutral tone), such as
  ``重庆 → chong2 qing4``, for polyphones and names. espeak-ng's Mandarin voice turns every
  character into such a syllable before it speaks (its dictionary maps 崇 to ``chong2``), so it
  is given the syllables as they are, with ``v`` for ü as in its dictionary, and says exactly
  what it says for characters read that way. Fish Speech has no grapheme-to-phoneme step (the
  model reads the text's tokens) and no phoneme input; its authors' advice for a polyphone is
  pinyin inside the text, so it is given the same syllables, with ü.

Entries are applied when a line is submitted (`shared.jobs.synthesis.speech_text`), to the text as
written (so ``12306`` can be an entry), longest match first, left to right, in one pass: a
reading is never looked up again. The text between matches is normalised as usual (numbers
read out); a reading is not. What an entry says is then part of the text the engine is given,
which is what the snippet key hashes, so a changed entry gives its lines new keys while lines
that no entry touches keep theirs (and their cached audio).
"""

import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.errors import BadInput, TooLarge
from shared.models import Lexicon, utcnow
from shared.text.sentences import clean

# One syllable of pinyin with its tone number; ü may be written ü, v or u: (as typed on a keyboard).
_SYLLABLE = re.compile(r"(?:[a-z]|ü|u:)+[1-5]", re.IGNORECASE)
_PINYIN = re.compile(r"\s*(?:(?:[a-z]|ü|u:)+[1-5]\s*)+", re.IGNORECASE)
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")
_SPACES = re.compile(r"\s+")


def pinyin_syllables(reading: str) -> list[str] | None:
    """The syllables of a reading written in pinyin with tone numbers (lower case, ü as ü),
    or None when the reading is a respelling."""
    if not _PINYIN.fullmatch(reading):
        return None
    return [s.lower().replace("u:", "ü").replace("v", "ü") for s in _SYLLABLE.findall(reading)]


def checked_entries(entries: Mapping[str, str]) -> dict[str, str]:
    """The entries in their canonical form (cleaned, pinyin spaced as syllables), or BadInput
    (TooLarge for a limit) naming the first entry at fault: a lexicon is stored whole or not at all."""
    settings = get_settings()
    if len(entries) > settings.lexicon_max_entries:
        raise TooLarge(f"the lexicon has {len(entries)} entries; the limit is {settings.lexicon_max_entries}")
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for raw_word, raw_reading in entries.items():
        word, reading = clean(raw_word), clean(raw_reading)
        if not any(ch.isalnum() for ch in word):
            raise BadInput(f"lexicon word {raw_word!r} has no letter or character to match")
        if not reading:
            raise BadInput(f"the reading of {word!r} is empty")
        if len(word) > settings.lexicon_max_word_chars:
            raise TooLarge(
                f"lexicon word {word[:20]!r}… has {len(word)} characters; the limit is "
                f"{settings.lexicon_max_word_chars}"
            )
        if len(reading) > settings.lexicon_max_reading_chars:
            raise TooLarge(
                f"the reading of {word!r} has {len(reading)} characters; the limit is "
                f"{settings.lexicon_max_reading_chars}"
            )
        syllables = pinyin_syllables(reading)
        if syllables is None and any(ch.isdigit() for ch in reading):
            # A digit would be read out as a number: the only digits a reading may hold are tones.
            raise BadInput(
                f"the reading of {word!r} ({reading!r}) has digits but is not pinyin with tone numbers 1-5 "
                "(e.g. 'chong2 qing4'); write numbers as words"
            )
        if (folded := word.casefold()) in seen:
            raise BadInput(f"lexicon words {seen[folded]!r} and {word!r} are the same word (matching ignores case)")
        seen[folded] = word
        out[word] = " ".join(syllables) if syllables is not None else reading
    return out


def version(entries: Mapping[str, str]) -> str:
    """sha256 of the canonical entries: the same lexicon has the same version whatever its order."""
    return hashlib.sha256(json.dumps(entries, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class _Said:
    text: str  # a respelling as it is
    pinyin: tuple[str, ...] | None  # or syllables, rendered for the engine


class Matcher:
    """A lexicon compiled for applying: one regular expression of every word, longest first."""

    def __init__(self, entries: Mapping[str, str]) -> None:
        self._said = {
            word.casefold(): _Said(reading, tuple(s) if (s := pinyin_syllables(reading)) is not None else None)
            for word, reading in entries.items()
        }
        alternatives = [_pattern(word) for word in sorted(entries, key=len, reverse=True)]
        self._regex = re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None

    def apply(self, text: str, engine: str, normalize: Callable[[str], str]) -> str:
        """`text` with every entry's word replaced by what it says on `engine`, the rest
        normalised; exactly `normalize(text)` when no entry matches."""
        if self._regex is None:
            return normalize(text)
        pieces: list[str] = []
        end = 0
        for match in self._regex.finditer(text):
            pieces.append(normalize(text[end : match.start()]))
            pieces.append(self._render(self._said[match.group().casefold()], engine))
            end = match.end()
        if not pieces:
            return normalize(text)
        pieces.append(normalize(text[end:]))
        return _SPACES.sub(" ", "".join(pieces)).strip()

    @staticmethod
    def _render(said: _Said, engine: str) -> str:
        if said.pinyin is None:
            return said.text
        # Spaces around and between syllables: espeak-ng reads "chong2qing4" as one English word.
        syllables = [s.replace("ü", "v") for s in said.pinyin] if engine == "espeak" else list(said.pinyin)
        return f" {' '.join(syllables)} "


def _pattern(word: str) -> str:
    """A word's regular expression; a word that begins or ends with a Latin letter or digit
    matches only whole there (the entry AI is not in PAID)."""
    pattern = re.escape(word)
    if _ASCII_WORD.match(word[0]):
        pattern = r"(?<![A-Za-z0-9])" + pattern
    if _ASCII_WORD.match(word[-1]):
        pattern += r"(?![A-Za-z0-9])"
    return pattern


# Compiled lexicons by version: a lexicon never changes under its version, so an entry never
# goes stale, and a submission costs one small read (the version) when its lexicon is here.
_MATCHERS: dict[str, Matcher] = {}
_MAX_MATCHERS = 64
_MATCHERS_LOCK = threading.Lock()  # API request threads share the cache


def matcher(session: Session, tenant_id: str) -> Matcher | None:
    """The tenant's lexicon, ready to apply; None when it has none."""
    sha = session.scalars(select(Lexicon.sha256).where(Lexicon.tenant_id == tenant_id)).first()
    if sha is None:
        return None
    found = _MATCHERS.get(sha)
    if found is None:
        entries = session.scalars(select(Lexicon.entries).where(Lexicon.tenant_id == tenant_id)).one()
        found = Matcher(entries)
        with _MATCHERS_LOCK:
            if len(_MATCHERS) >= _MAX_MATCHERS:
                _MATCHERS.pop(next(iter(_MATCHERS)))
            _MATCHERS[sha] = found
    return found


def get_lexicon(session: Session, tenant_id: str) -> Lexicon | None:
    return session.get(Lexicon, tenant_id)


def replace_lexicon(session: Session, tenant_id: str, entries: Mapping[str, str]) -> Lexicon:
    """Store `entries` as the tenant's whole lexicon (checked first; nothing is written if one is bad)."""
    canonical = checked_entries(entries)
    row = session.get(Lexicon, tenant_id)
    if row is None:
        row = Lexicon(tenant_id=tenant_id)
        session.add(row)
    row.entries = canonical
    row.sha256 = version(canonical)
    row.updated_at = utcnow()
    session.flush()
    return row


def delete_lexicon(session: Session, tenant_id: str) -> bool:
    """Remove the tenant's lexicon; False if it had none."""
    row = session.get(Lexicon, tenant_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
