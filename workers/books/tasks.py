"""Media pool task (queue `media`): a finished book's M4B or chapters zip, built once with ffmpeg
on the CPU and stored (shared/books/files.py) for the API to serve."""

import logging
import tempfile
from pathlib import Path
from typing import Any

from celery import Task

from shared.books.assemble import assemble
from shared.books.files import save_built
from shared.config import get_settings
from shared.db import session_scope
from shared.errors import VoxQueueError
from shared.jobs.contracts import BookInput, BookResult
from shared.jobs.lanes import BOOK_TASK
from shared.models import Batch, BookFile
from workers.app import celery_app
from workers.runner import JOB_TASK_POLICY, Outcome, Outcomes, Work, run_jobs

logger = logging.getLogger(__name__)

# Its queue: shared.jobs.lanes.QUEUE_FOR_TASK, as task_routes. A 10-hour book takes a few
# minutes here; the limit leaves room for a slow host and stays under the visibility timeout.
BOOK_SOFT_TIME_LIMIT_S = 1800


@celery_app.task(
    name=BOOK_TASK, soft_time_limit=BOOK_SOFT_TIME_LIMIT_S, time_limit=BOOK_SOFT_TIME_LIMIT_S + 60, **JOB_TASK_POLICY
)
def build_book(self: Task[Any, Any], job_id: str) -> None:
    run_jobs(self, [job_id], BookInput, build_books)


def build_books(group: list[Work[BookInput]]) -> Outcomes:
    outcomes: Outcomes = []
    for work in group:
        try:
            outcomes.append(build(work))
        except VoxQueueError as exc:
            outcomes.append(exc)
    return outcomes


def build(work: Work[BookInput]) -> Outcome:
    """Assemble the book into a temporary file, then store it; a file an earlier attempt
    stored already is not built again."""
    spec, settings = work.input, get_settings()
    with session_scope() as session:
        stored = session.get_one(BookFile, spec.file_id)
        if stored.size is not None:
            logger.info("job %s: file %s was stored by an earlier attempt", work.job.id, spec.file_id)
            return Outcome(result_of(stored))
        batch = session.get_one(Batch, spec.batch_id)
        with tempfile.TemporaryDirectory(prefix="voxq-book-") as folder:
            out = Path(folder) / "book"
            made = assemble(session, batch, spec.output, spec.format, settings, out)
            session.rollback()  # end the read transaction before the long write
            built = save_built(spec.file_id, out, made, settings)
    logger.info(
        "job %s: %s of batch %s stored, %d bytes, %.0fs of audio",
        work.job.id,
        spec.output,
        spec.batch_id,
        built.size,
        made.duration_s,
    )
    return Outcome(result_of(built))


def result_of(built: BookFile) -> BookResult:
    assert built.size is not None and built.duration_s is not None and built.chapters is not None, "a built file"
    return BookResult(file_id=built.id, size=built.size, duration_s=built.duration_s, chapters=built.chapters)
