"""Creating jobs and batches: build the rows (nothing is written until they are all valid),
insert them in one statement, commit, then enqueue.

Used by the API's routes. Cache hits (synthesis, shared/jobs/synthesis.py) and CPU answers
(dialect, with no LLM) are stored as succeeded at once and never queued. A tenant's
submissions (`submit`, `create_batch`) are counted against its daily quotas
(shared/tenants/quota.py) before anything is written. The child jobs a worker creates (a
spoken reply's) are stored with `state.insert_jobs` and `queue.commit_and_enqueue`, and are
not: the tenant did not submit them.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from shared.books.store import BookInfo, store_book
from shared.config import get_settings
from shared.dialect.detector import detect
from shared.jobs import dispatch, lanes, queue, state
from shared.jobs.contracts import (
    DialectInput,
    DialectText,
    GenerateRequest,
    ScriptLine,
)
from shared.jobs.dialect_answer import cpu_answer
from shared.jobs.state import NewJob
from shared.jobs.synthesis import cleaned
from shared.models import Batch, JobKind
from shared.tenants import quota
from shared.voices.resolve import dialect_voices
from shared.webhooks import callbacks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submitted:
    """What a submission stored: every job's id in order, and those that went on the queue."""

    job_ids: list[str]
    queued: list[str]


def follow_dialect(
    session: Session, tenant_id: str, lines: Sequence[ScriptLine], overrides: dict[str, str]
) -> list[ScriptLine]:
    """Let each line's dialect choose its voice: the CPU detector names the dialect, then the
    voice mapped to it speaks (`overrides`, else `dialect_voices`); a dialect with no voice
    of its own keeps the line's voice."""
    mapping = dialect_voices(session, tenant_id, get_settings().tts_engine) | overrides
    chosen = []
    for line in lines:
        label = detect(line.text).label
        chosen.append(replace(line, voice=mapping.get(label, line.voice), dialect=label))
    return chosen


def dialect_jobs(items: Sequence[DialectText]) -> list[NewJob]:
    """One job per text, answered at once by the CPU detector when there is no LLM to ask."""
    use_llm = bool(get_settings().llm_url)
    new_jobs = []
    for number, item in enumerate(items, start=1):
        text = cleaned(item.text, f"item {number}: text")
        answer = None if use_llm else cpu_answer(detect(text))
        new_jobs.append(
            NewJob(JobKind.dialect, DialectInput(text=text, context=item.context), number, item.id, result=answer)
        )
    return new_jobs


def generation_jobs(items: Sequence[GenerateRequest]) -> list[NewJob]:
    """One queued job per request; the request is the job's input."""
    return [NewJob(JobKind.generation, item, number) for number, item in enumerate(items, start=1)]


def submit(
    session: Session,
    tenant_id: str,
    new_jobs: Sequence[NewJob],
    callback_url: str | None = None,
) -> Submitted:
    """A tenant's request of single jobs (all of one kind), within its daily quota: insert
    them, commit, then put the queued ones on their queue's live lane at once. With a
    (checked) `callback_url`, each job's end is POSTed there (shared/webhooks/callbacks.py)."""
    with quota.reserved(session, tenant_id, new_jobs, "this request"):
        queued = state.insert_jobs(session, tenant_id, new_jobs)
        if callback_url is not None:
            callbacks.expect(session, tenant_id, callback_url, None, [job.id for job in new_jobs])
        if new_jobs:
            queue.commit_and_enqueue(session, lanes.TASK_FOR_KIND[new_jobs[0].kind], queued, "live")
        return Submitted([job.id for job in new_jobs], queued)


def create_batch(
    session: Session,
    tenant_id: str,
    kind: JobKind,
    new_jobs: Sequence[NewJob],
    options: dict[str, Any],
    lane: lanes.Lane = "bulk",
    book: BookInfo | None = None,
    callback_url: str | None = None,
) -> Batch:
    """A batch of one job per line, stored as one submission within the tenant's daily quota;
    its lines wait in the database, and the dispatcher sends them to the bulk lane (or the live
    one, if its lines are asked for now) a few at a time, taking turns with other tenants'
    (shared/jobs/dispatch.py). A `book`'s chapters and cover are stored with it. With a
    (checked) `callback_url`, the batch's end is POSTed there (shared/webhooks/callbacks.py)."""
    if callback_url is not None:
        options = options | {"callback_url": callback_url}
    with quota.reserved(session, tenant_id, new_jobs, "this batch"):
        waiting = sum(1 for job in new_jobs if job.result is None)
        batch = Batch(tenant_id=tenant_id, kind=kind, lines=len(new_jobs), options=options, lane=lane)
        batch.undispatched = waiting
        session.add(batch)
        session.flush()
        if book is not None:
            store_book(session, batch.id, book)
        queued = state.insert_jobs(session, tenant_id, new_jobs, batch_id=batch.id, dispatched=False)
        if callback_url is not None:
            callbacks.expect(session, tenant_id, callback_url, batch.id, [job.id for job in new_jobs])
        session.commit()
    if queued:
        # Its first lines go now if the lane has room; the rest as workers take them.
        dispatch.kick(lanes.QUEUE_FOR_TASK[lanes.TASK_FOR_KIND[kind]], lane)
    return batch
