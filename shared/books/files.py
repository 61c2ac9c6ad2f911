"""A finished book's stored file (an M4B, or a zip of its chapters): asked for by the API, built
once by a book job on the `media` queue, then served from storage with range requests.

A file is known by its key: a hash of everything its bytes depend on (each line's snippet in
order, the chapters, the cover, the tags, the output and the settings that shape the sound). A
book whose lines change (a line run again) has a new key, so a new file; the same request
twice finds the file, or the job already building it.

The bytes sit behind `FileStore`, so that an object store can take the place of the database
one here: `DatabaseStore` keeps them in `book_file_chunks`, FILE_CHUNK bytes a row, so a range
request reads only the rows it covers and nothing holds a whole book in memory.
"""

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.audio.retention import retention
from shared.books.assemble import Assembled
from shared.books.timeline import line_pause_ms
from shared.config import Settings
from shared.db import session_scope
from shared.jobs import state
from shared.jobs.contracts import BookInput, BookOutput
from shared.jobs.lanes import BOOK_TASK
from shared.jobs.queue import commit_and_enqueue
from shared.models import (
    Batch,
    BatchChapter,
    BatchCover,
    BookFile,
    BookFileChunk,
    Job,
    JobKind,
    JobStatus,
    new_id,
    utcnow,
)

logger = logging.getLogger(__name__)

FILE_CHUNK = 1 << 20  # bytes a stored row holds: a range request reads at most one row past what it needs
# Changed whenever the assembly itself changes (a filter, the container), so that no file built
# the old way is served again.
ASSEMBLY_VERSION = "2"  # 2: the M4B brand, its media kind, the true peak checked on the encoded file
MEDIA_TYPES: dict[BookOutput, str] = {"m4b": "audio/mp4", "chapters": "application/zip"}


@dataclass(frozen=True)
class Stored:
    size: int
    sha256: str


class FileStore(Protocol):
    """Where a book file's bytes live."""

    def write(self, file_id: str, source: BinaryIO) -> Stored:
        """Store the whole of `source` as the file's bytes, replacing any it had."""
        ...

    def read(self, file_id: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) of the file, a piece at a time."""
        ...


class DatabaseStore:
    """The bytes in `book_file_chunks`, each write in one transaction of its own."""

    def write(self, file_id: str, source: BinaryIO) -> Stored:
        digest, size = hashlib.sha256(), 0
        with session_scope() as session:
            session.execute(delete(BookFileChunk).where(BookFileChunk.file_id == file_id))
            number = 0
            while data := source.read(FILE_CHUNK):
                session.add(BookFileChunk(file_id=file_id, number=number, data=data))
                session.flush()  # one chunk in memory at a time
                session.expunge_all()
                digest.update(data)
                size += len(data)
                number += 1
        return Stored(size, digest.hexdigest())

    def read(self, file_id: str, start: int, end: int) -> Iterator[bytes]:
        first, last = start // FILE_CHUNK, (end - 1) // FILE_CHUNK
        for number in range(first, last + 1):
            # A session per chunk: a slow client never holds a database connection.
            with session_scope() as session:
                data = session.scalar(
                    select(BookFileChunk.data).where(BookFileChunk.file_id == file_id, BookFileChunk.number == number)
                )
            if data is None:  # deleted under the download (its retention ran out): end it short
                logger.warning("book file %s: chunk %d is gone", file_id, number)
                return
            offset = number * FILE_CHUNK
            yield data[max(start - offset, 0) : min(end - offset, len(data))]


def store() -> FileStore:
    """The deployment's store of book files."""
    return DatabaseStore()


def file_key(session: Session, batch: Batch, output: BookOutput, fmt: str, settings: Settings) -> str:
    """What a book file's bytes depend on, hashed: reads each line's snippet key (an index
    scan of the batch's jobs), the chapters and the cover, never any audio."""
    digest = hashlib.sha256()
    tags = sorted((batch.options.get("book") or {}).items())
    sound = (settings.book_loudness_lufs, settings.book_peak_dbfs, settings.book_aac_kbps, line_pause_ms(settings))
    digest.update(repr((ASSEMBLY_VERSION, output, fmt, sound, tags)).encode())
    lines = session.execute(
        select(Job.line, Job.chapter, Job.snippet_key).where(Job.batch_id == batch.id).order_by(Job.line)
    )
    for line, chapter, key in lines:
        digest.update(f"{line}:{chapter}:{key}\n".encode())
    for number, title in session.execute(
        select(BatchChapter.number, BatchChapter.title).where(BatchChapter.batch_id == batch.id)
    ):
        digest.update(f"chapter {number}:{title}\n".encode())
    if (cover := session.get(BatchCover, batch.id)) is not None:
        digest.update(hashlib.sha256(cover.image).digest())
    return digest.hexdigest()


def file_name(batch: Batch, output: BookOutput) -> str:
    return f"{batch.id}.m4b" if output == "m4b" else f"{batch.id}-chapters.zip"


def find_or_build(session: Session, batch: Batch, output: BookOutput, fmt: str, settings: Settings) -> BookFile:
    """The batch's stored file of this output, or the one being built (`size` None, its job
    `job_id`): a book job is queued for it if none is, or if the last one failed."""
    key = file_key(session, batch, output, fmt, settings)
    found = _find(session, batch.id, key)
    if found is not None and found.size is not None:
        return found
    if found is not None:
        job = session.get(Job, found.job_id)
        if job is not None and job.status != JobStatus.failed:
            return found  # being built
    job_id = new_id("job")
    if found is None:
        found = BookFile(
            tenant_id=batch.tenant_id,
            batch_id=batch.id,
            key=key,
            output=output,
            format=fmt,
            job_id=job_id,
            media_type=MEDIA_TYPES[output],
            filename=file_name(batch, output),
        )
        try:
            with session.begin_nested():
                session.add(found)
        except IntegrityError:  # another request made it a moment ago: use theirs
            return _find(session, batch.id, key) or found
    found.job_id = job_id
    spec = BookInput(file_id=found.id, batch_id=batch.id, output=output, format=fmt)
    queued = state.insert_jobs(session, batch.tenant_id, [state.NewJob(JobKind.book, spec, id=job_id)])
    logger.info("batch %s: job %s builds its %s (file %s)", batch.id, job_id, output, found.id)
    commit_and_enqueue(session, BOOK_TASK, queued, "live")
    return found


def _find(session: Session, batch_id: str, key: str) -> BookFile | None:
    return session.scalar(select(BookFile).where(BookFile.batch_id == batch_id, BookFile.key == key))


def save_built(file_id: str, source: Path, made: Assembled, settings: Settings) -> BookFile:
    """Store a built file's bytes and mark it built; the batch's older files of the same output
    (made of lines since run again) go, as nothing asks for them any more."""
    with source.open("rb") as f:
        stored = store().write(file_id, f)
    now = utcnow()
    with session_scope() as session:
        book_file = session.get_one(BookFile, file_id)
        book_file.size, book_file.sha256, book_file.built_at = stored.size, stored.sha256, now
        book_file.duration_s, book_file.chapters = made.duration_s, made.chapters
        book_file.expires_at = now + retention(settings)  # as long as the snippets it was made of
        older = session.scalars(
            select(BookFile.id).where(
                BookFile.batch_id == book_file.batch_id,
                BookFile.output == book_file.output,
                BookFile.format == book_file.format,
                BookFile.id != file_id,
            )
        ).all()
        _delete(session, older)
        session.expunge(book_file)
    return book_file


def _delete(session: Session, file_ids: Sequence[str]) -> None:
    if not file_ids:
        return
    session.execute(delete(BookFileChunk).where(BookFileChunk.file_id.in_(file_ids)))
    session.execute(delete(BookFile).where(BookFile.id.in_(file_ids)))
