"""Building a finished book's file with ffmpeg: one M4B with chapters and cover, or a zip of one
file per chapter, both normalised to the book's loudness. Runs in a media worker (a book job),
never in the API: a 10-hour book takes minutes."""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from shared.books.m4b import write_chapters, write_m4b
from shared.books.store import cover_of
from shared.books.timeline import load_timeline, require_finished
from shared.config import Settings
from shared.jobs.contracts import BookOutput
from shared.models import Batch


@dataclass(frozen=True)
class Assembled:
    duration_s: float
    chapters: int


def assemble(session: Session, batch: Batch, output: BookOutput, fmt: str, settings: Settings, out: Path) -> Assembled:
    """Write the batch's book to `out`: `m4b`, or `chapters` (a zip of files in `fmt`)."""
    require_finished(session, batch)
    timeline = load_timeline(session, batch.tenant_id, batch, settings)
    if output == "m4b":
        write_m4b(session, batch.tenant_id, timeline, settings, out, cover_of(session, batch.id), tags(batch))
    else:
        write_chapters(session, batch.tenant_id, timeline, settings, fmt, out)
    return Assembled(timeline.length(timeline.lines) / timeline.rate, len(timeline.titles))


def tags(batch: Batch) -> dict[str, str | None]:
    """The M4B's title, author, album and genre, from the EPUB (else the file's name)."""
    book = batch.options.get("book") or {}
    title = book.get("title") or batch.options.get("filename") or batch.id
    return {"title": title, "artist": book.get("author"), "album": title, "genre": "Audiobook"}
