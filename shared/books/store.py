"""Books: a batch whose lines are grouped in chapters, with the chapters' titles and the cover.

A script becomes a book when it has chapters (an EPUB, or a plain-text script with `# `
headings): each line's job knows its chapter number (`jobs.chapter`), and the titles and the
cover are stored beside the batch (`batch_chapters`, `batch_covers`), in the same transaction
as its jobs.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import BatchChapter, BatchCover

COVER_TYPES = frozenset({"image/jpeg", "image/png"})  # what an MP4's attached picture may be


@dataclass(frozen=True)
class Cover:
    media_type: str  # one of COVER_TYPES
    image: bytes


@dataclass(frozen=True)
class BookInfo:
    """What a book has beside its lines: chapter titles (chapter n is `chapters[n - 1]`), the
    cover, and its own title and author when the file names them."""

    chapters: list[str]
    cover: Cover | None = None
    title: str | None = None
    author: str | None = None
    language: str | None = None  # dc:language, BCP 47


def store_book(session: Session, batch_id: str, book: BookInfo) -> None:
    """Add the book's chapters and cover to the session (the caller commits with the jobs)."""
    session.add_all(BatchChapter(batch_id=batch_id, number=n, title=t) for n, t in enumerate(book.chapters, 1))
    if book.cover is not None:
        session.add(BatchCover(batch_id=batch_id, media_type=book.cover.media_type, image=book.cover.image))


def chapter_titles(session: Session, batch_id: str) -> dict[int, str]:
    """The batch's chapters by number; empty for a batch without chapters."""
    query = select(BatchChapter.number, BatchChapter.title).where(BatchChapter.batch_id == batch_id)
    return {number: title for number, title in session.execute(query.order_by(BatchChapter.number)).all()}  # noqa: C416


def cover_of(session: Session, batch_id: str) -> Cover | None:
    row = session.get(BatchCover, batch_id)
    return None if row is None else Cover(row.media_type, row.image)
