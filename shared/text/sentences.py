"""Text before synthesis: cleaning and splitting long lines into sentence chunks."""

import re
import unicodedata

# Sentence ends: Chinese 。！？；… and their ASCII forms, with the closing quotes and brackets
# after them (…不要闹情绪。”妻子… ends after the ”). An ASCII full stop only ends a sentence
# before white space or the end, so "3.5" and "www.example.com" stay whole.
_CLOSERS = "”’」』）)》〉】\"'"
_SENTENCE_END = re.compile(rf"[。！？；…!?;]+[{_CLOSERS}]*|\.+[{_CLOSERS}]*(?=\s|$)")
# Where a sentence that is still too long may be broken: commas and other pauses.
_CLAUSE_END = re.compile(r"[，、：,:]")
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
    pieces = _split_after(growing, _SENTENCE_END)
    rest = pieces.pop() if pieces else ""  # unfinished, or finished last: a closing quote may follow
    if not rest and pieces:  # ends with a sentence end: wait for what follows it
        rest = pieces.pop()
    done = [p.strip() for piece in pieces for p in _pieces(piece, max_chars) if p.strip()]
    while len(rest) > max_chars:
        cut = max((m.end() for m in _CLAUSE_END.finditer(rest, 0, max_chars)), default=0)
        cut = cut or _cut_point(rest, max_chars)
        if head := rest[:cut].strip():
            done.append(head)
        rest = rest[cut:]
    return done, rest


def _pieces(text: str, max_chars: int) -> list[str]:
    """Sentences; one longer than `max_chars` cut at clause marks, then at spaces, then between
    two characters that are not both of one Latin word or number: never inside "International"
    or "25952"."""
    out: list[str] = []
    for sentence in _split_after(text, _SENTENCE_END):
        if len(sentence) <= max_chars:
            out.append(sentence)
            continue
        for clause in _split_after(sentence, _CLAUSE_END):
            while len(clause) > max_chars:
                cut = _cut_point(clause, max_chars)
                out.append(clause[:cut])
                clause = clause[cut:]
            out.append(clause)
    return [p for p in out if p]


def _split_after(text: str, ends: "re.Pattern[str]") -> list[str]:
    """`text` cut after each match of `ends`; the pieces join back to `text`."""
    pieces, start = [], 0
    for match in ends.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _cut_point(text: str, max_chars: int) -> int:
    """Where to cut a text with no clause mark in its first `max_chars`: after its last space
    there, else at the last place that is not inside a Latin word or a number, else (one word
    longer than the limit) at the limit."""
    space = text.rfind(" ", 1, max_chars + 1)
    if space > 0:
        return space + 1
    for at in range(max_chars, 0, -1):
        if not (_WORD_CHAR.match(text[at - 1]) and _WORD_CHAR.match(text[at : at + 1])):
            return at
    return max_chars


_WORD_CHAR = re.compile(r"[A-Za-z0-9'’.,%-]")
