"""Text before synthesis: cleaning and splitting long lines into sentence chunks."""

import re
import unicodedata

# Sentence ends: Chinese 。！？；… and their ASCII forms. An ASCII full stop only ends a
# sentence before white space or the end, so "3.5" and "www.example.com" stay whole.
_SENTENCE_END = re.compile(r"(?<=[。！？；…!?;])(?![。！？；…!?;”」』)）\"'])|(?<=\.)(?=\s|$)")
# Where a sentence that is still too long may be broken: commas and other pauses.
_CLAUSE_END = re.compile(r"(?<=[，、：,:])")
_SPACES = re.compile(r"\s+")
# Control and invisible format characters (C0/C1 controls, the soft hyphen, the Arabic letter
# mark, the Mongolian vowel separator, zero-width marks, bidi controls and isolates, deprecated
# format characters, BOM, interlinear annotation marks): never spoken, and they would make
# equal-looking texts get different cache keys.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)


def clean(text: str) -> str:
    """Canonical form of a text: NFC, invisible characters dropped, white space folded."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    return _SPACES.sub(" ", text).strip()


def split_sentences(text: str, max_chars: int) -> list[str]:
    """Split at sentence ends, then pack sentences into chunks of at most `max_chars`.

    A single sentence longer than `max_chars` is broken at clause marks, and as a last
    resort every `max_chars` characters. Joining the chunks gives back the text.
    """
    chunks: list[str] = []
    current = ""
    for sentence in _pieces(text, max_chars):
        if current and len(current) + len(sentence) > max_chars:
            chunks.append(current)
            current = ""
        current += sentence
    if current:
        chunks.append(current)
    return [c.strip() for c in chunks if c.strip()]


def sentences(text: str, max_chars: int) -> list[str]:
    """Each sentence on its own (a long one broken as in `split_sentences`): the pieces a
    streamed answer speaks one after another, the first as soon as it can."""
    return [p.strip() for p in _pieces(text, max_chars) if p.strip()]


def finished_sentences(growing: str, max_chars: int) -> tuple[list[str], str]:
    """The sentences of a text still being written that are complete, and the rest.

    A sentence is complete once a sentence end is followed by something else: a closing
    quote may still come after a final 。. A rest longer than `max_chars` is broken at its
    last clause mark (else at `max_chars`), so a reply without full stops is still spoken
    as it comes rather than all at the end.
    """
    pieces = _SENTENCE_END.split(growing)
    rest = pieces.pop()
    if not rest and pieces:  # ends with a sentence end: wait for what follows it
        rest = pieces.pop()
    done = [p.strip() for piece in pieces for p in _pieces(piece, max_chars) if p.strip()]
    while len(rest) > max_chars:
        cut = max((m.end() for m in _CLAUSE_END.finditer(rest, 0, max_chars)), default=max_chars)
        if head := rest[:cut].strip():
            done.append(head)
        rest = rest[cut:]
    return done, rest


def _pieces(text: str, max_chars: int) -> list[str]:
    out: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if len(sentence) <= max_chars:
            out.append(sentence)
            continue
        for clause in _CLAUSE_END.split(sentence):
            out.extend(clause[i : i + max_chars] for i in range(0, len(clause), max_chars))
    return [p for p in out if p]
