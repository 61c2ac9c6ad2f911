"""A book read in the languages it declares: each line in a voice of its own language.

An EPUB says its language (dc:language) and may say another for a document (xml:lang): a
Chinese novel with an English preface, an English book with a Chinese chapter. A line whose
language is not the book's is spoken in the engine's voice for its language (en → en on
espeak-ng), not by a Chinese voice reading English letters; a book sent without a voice is
spoken in its own language's voice. A language the engine has no voice for is left out, with a
warning stored in the batch (never 47 minutes of letter names). A cloned voice (Fish Speech)
speaks what it is given: its lines are all kept.
"""

from collections import Counter
from dataclasses import dataclass, replace

from shared.books.store import BookInfo
from shared.errors import BadInput
from shared.jobs.contracts import ScriptLine
from shared.voices.resolve import LANGUAGE_VOICES, language_voice


@dataclass(frozen=True)
class Voiced:
    lines: list[ScriptLine]
    book: BookInfo
    warnings: list[str]


def voice_by_language(lines: list[ScriptLine], book: BookInfo, voice: str | None, engine: str) -> Voiced:
    """Each line's voice from its language where it is not the book's (or no voice was asked
    for); lines with no voice for their language left out, chapters left empty with them."""
    if not LANGUAGE_VOICES.get(engine) or not any(line.language for line in lines):
        return Voiced(lines, book, [])
    kept: list[ScriptLine] = []
    unvoiced: Counter[str] = Counter()
    for line in lines:
        language = line.language
        if line.voice or not language or (voice and _same(language, book.language)):
            kept.append(line)
        elif own := language_voice(language, engine):
            kept.append(replace(line, voice=own))
        else:
            unvoiced[language] += 1
    warnings = [
        f"{count} lines in {language!r} left out: the {engine} engine has no voice for that language"
        for language, count in unvoiced.items()
    ]
    if not kept:
        raise BadInput(f"no line of the book is in a language the {engine} engine has a voice for ({warnings[0]})")
    return _renumbered(kept, book, warnings)


def _same(language: str, book_language: str | None) -> bool:
    return book_language is None or language.lower().split("-")[0] == book_language.lower().split("-")[0]


def _renumbered(lines: list[ScriptLine], book: BookInfo, warnings: list[str]) -> Voiced:
    """Lines numbered 1..n again, and chapters that lost every line left out."""
    chapters = sorted({line.chapter for line in lines if line.chapter is not None})
    new_number = {old: new for new, old in enumerate(chapters, 1)}
    out = [
        replace(line, number=n, chapter=None if line.chapter is None else new_number[line.chapter])
        for n, line in enumerate(lines, 1)
    ]
    titles = [book.chapters[old - 1] for old in chapters if old - 1 < len(book.chapters)]
    return Voiced(out, replace(book, chapters=titles), warnings)
