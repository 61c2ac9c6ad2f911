"""Captions of a book's audio (SRT, WebVTT), a cue per sentence.

Each line's place comes from the book's timeline (shared/books/timeline.py): its own length, from
its stored audio, and the pause the join puts between lines, so a line's first cue starts
and its last cue ends where its audio does, to the sample. Inside a line only the line's
total length is stored, not each chunk's: the line is cut into the chunks the worker spoke
(`split_sentences` at VOXQ_MAX_CHUNK_CHARS) with the pause it joined them with
(VOXQ_PAUSE_BETWEEN_CHUNKS_MS), the rest of the line's time is shared among the chunks in
proportion to their characters, and a chunk's time among its sentences likewise. The text is
the line as written (its job's input.text): every character of it is in a cue (marks alone join
the cue before), and a long cue is shown in rows of ROW_CHARS.
"""

from dataclasses import dataclass
from typing import Literal

from shared.books.timeline import Line, Timeline
from shared.text.sentences import sentences, split_sentences

CaptionFormat = Literal["srt", "vtt"]
MEDIA_TYPES: dict[CaptionFormat, str] = {"srt": "application/x-subrip", "vtt": "text/vtt"}
ROW_CHARS = 20  # a caption row: what a phone shows across, about 20 Chinese characters


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str


def cues(timeline: Timeline, chapter: int | None, max_chunk_chars: int, chunk_pause_ms: int) -> list[Cue]:
    """The cues of the whole book (times from its start), or of one chapter (from the start of
    that chapter's own file, `output=chapters`)."""
    lines = timeline.chapter_lines(chapter)
    out: list[Cue] = []
    for line, start in zip(lines, timeline.starts(lines), strict=True):
        out += _line_cues(line, start / timeline.rate, line.samples / timeline.rate, max_chunk_chars, chunk_pause_ms)
    return out


def _line_cues(line: Line, start: float, duration: float, max_chunk_chars: int, chunk_pause_ms: int) -> list[Cue]:
    chunks = _keeping_marks(split_sentences(line.text, max_chunk_chars))
    pause = chunk_pause_ms / 1000
    speech = duration - pause * (len(chunks) - 1)
    if not chunks or speech <= 0:  # nothing to share out: the line is one cue
        return [Cue(start, start + duration, line.text)]
    total = sum(_weight(c) for c in chunks)
    out: list[Cue] = []
    at = start
    for i, chunk in enumerate(chunks):
        length = speech * _weight(chunk) / total
        pieces = _keeping_marks(sentences(chunk, max_chunk_chars)) or [chunk]
        weights = sum(_weight(s) for s in pieces)
        piece_at = at
        for piece in pieces:
            end = piece_at + length * _weight(piece) / weights
            out.append(Cue(piece_at, end, piece))
            piece_at = end
        at += length + (pause if i < len(chunks) - 1 else 0)
    # The last cue ends exactly where the line's audio does, whatever rounding gathered.
    out[-1] = Cue(out[-1].start_s, start + duration, out[-1].text)
    return out


def _keeping_marks(pieces: list[str]) -> list[str]:
    """The pieces with something to say; one of marks alone (". . .", "’”") joins the piece
    before it (or, first, the one after), so every character of the line is in a cue."""
    out: list[str] = []
    carried = ""
    for piece in pieces:
        if not _weight(piece):
            if out:
                out[-1] = f"{out[-1]} {piece}" if piece[:1].isascii() and piece[:1] in ".?!" else out[-1] + piece
            else:
                carried += piece
            continue
        out.append(carried + piece)
        carried = ""
    if carried and out:
        out[-1] += carried
    return out


def _weight(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum())


def _wrapped(text: str) -> str:
    """A long cue in rows of at most ROW_CHARS Chinese characters (a Latin letter counts half),
    broken after a mark where one is near the end of a row."""
    rows: list[str] = []
    row, width = "", 0.0
    for ch in text:
        row += ch
        width += 0.5 if ch.isascii() else 1.0
        if width >= ROW_CHARS:
            cut = max(row.rfind(m) for m in "，、；：,;: ") + 1
            if cut < len(row) // 2:  # no mark in its second half: break here
                cut = len(row)
            rows.append(row[:cut])
            row = row[cut:]
            width = sum(0.5 if c.isascii() else 1.0 for c in row)
    if row:
        rows.append(row)
    return "\n".join(r.strip() for r in rows if r.strip())


def render(items: list[Cue], fmt: CaptionFormat) -> str:
    if fmt == "vtt":
        # "-->" would end a WebVTT cue's text early.
        body = [
            f"{_time(c.start_s, '.')} --> {_time(c.end_s, '.')}\n{_wrapped(c.text).replace('-->', '→')}\n"
            for c in items
        ]
        return "WEBVTT\n\n" + "\n".join(body)
    return "\n".join(
        f"{i}\n{_time(c.start_s, ',')} --> {_time(c.end_s, ',')}\n{_wrapped(c.text)}\n" for i, c in enumerate(items, 1)
    )


def _time(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"
