"""Retention of synthesised audio: how long a snippet is kept, and the sweep that frees it.

A snippet's holders are the jobs that point at it (`jobs.snippet_key`, same tenant) and have used
audio: sent to a worker, or answered from the cache at submission (`models.SNIPPET_HOLDERS`; a
batch's line waiting in the database is not one until it is sent, and its worker looks in the
cache again then):

- a line of a batch keeps it until `snippet_retention_days` after its batch ended
  (`batches.finished_at`, set by the sweep once no line is queued or running);
- a single job (`/v1/synthesize`, `/v1/audio/speech`, a spoken reply), until that long after it finished;
- a precomputed phrase (`jobs.pinned` true, `/v1/snippets/precompute`), until it is deleted
  (`POST /v1/snippets/delete` sets `pinned` false: that job then holds nothing).

A snippet goes when no holder keeps it any more. Reuse through the cache makes a new holder (a
cached line is a succeeded job pointing at the same key), so a snippet a newer batch used lives
on with that batch.

`snippets.expires_at` is when the sweep next looks at a snippet; NULL: never (a precomputed
phrase's). It is never later than the moment the holders let the snippet go, so the sweep only
reads the few rows whose time came (an index), then works out from their holders whether to
delete each or when to look again. Deleting a row is guarded by `expires_at` still being past,
and reuse at submission pushes `expires_at` out first (`reuse`), so a snippet a submission is
about to point at is never deleted under it, on SQLite or Postgres.
"""

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, case, delete, exists, func, select, text, tuple_, update
from sqlalchemy.orm import Session

from shared.audio.folder import audio_folder, remove_when_committed
from shared.config import Settings
from shared.db import among, in_chunks
from shared.errors import AudioExpired
from shared.models import SNIPPET_HOLDERS, Batch, BookFile, Job, JobStatus, Snippet, utcnow

logger = logging.getLogger(__name__)
_SNIPPETS = cast(Table, Snippet.__table__)  # declared as a FromClause; a declarative class's is a Table
# A snippet whose time comes within this margin is held by a submission that reuses it: no sweep
# can delete it before the submission has committed the job that points at it.
_REUSE_MARGIN = timedelta(hours=1)
# The jobs that hold a snippet: ix_jobs_snippet_key's own predicate, as its text, since SQLite and
# Postgres use a partial index only for a query whose WHERE has it. Its columns are unqualified:
# the queries that join batches rely on batches having none of those names. Parenthesised, as
# text() is put into an AND as it stands.
_HOLDER = text(f"({SNIPPET_HOLDERS})")


def retention(settings: Settings) -> timedelta:
    return timedelta(days=settings.snippet_retention_days)


# --- what submissions and routes call ----------------------------------------------------------


def reuse(session: Session, tenant_id: str, keys: Iterable[str], settings: Settings) -> dict[str, float]:
    """The audio length of each of `keys` the tenant has audio for, as `cached_durations`; a
    snippet near its time is held for the retention from now (in this transaction), and one a
    sweep deleted meanwhile is left out, so that the line is spoken again rather than pointed at
    audio that is gone."""
    wanted = list(dict.fromkeys(keys))
    now = utcnow()
    found: dict[str, float] = {}
    for chunk in in_chunks(wanted):
        soon: list[str] = []
        rows = session.execute(
            select(Snippet.key, Snippet.duration_s, Snippet.expires_at).where(
                Snippet.tenant_id == tenant_id, among(session, Snippet.key, chunk)
            )
        )
        for key, duration, expires_at in rows:
            found[key] = duration
            if expires_at is not None and expires_at < now + _REUSE_MARGIN:
                soon.append(key)
        if soon:
            held = session.scalars(
                update(Snippet)
                .where(Snippet.tenant_id == tenant_id, Snippet.key.in_(soon), Snippet.expires_at.is_not(None))
                .values(expires_at=now + max(retention(settings), _REUSE_MARGIN))
                .returning(Snippet.key)
                .execution_options(synchronize_session=False)
            ).all()
            for key in set(soon) - set(held):
                del found[key]
    return found


def pin(session: Session, tenant_id: str, job_ids: Sequence[str]) -> None:
    """Mark precompute jobs: their audio is kept until the phrase is deleted. The snippets they
    found cached are kept from now (expires_at NULL); those still to be spoken, once the sweep
    first looks at them."""
    for chunk in in_chunks(job_ids):
        session.execute(
            update(Job)
            .where(Job.tenant_id == tenant_id, Job.id.in_(chunk))
            .values(pinned=True)
            .execution_options(synchronize_session=False)
        )
        keys = select(Job.snippet_key).where(Job.id.in_(chunk), Job.snippet_key.is_not(None))
        session.execute(
            update(Snippet)
            .where(Snippet.tenant_id == tenant_id, Snippet.key.in_(keys))
            .values(expires_at=None)
            .execution_options(synchronize_session=False)
        )


def unpin(session: Session, tenant_id: str, keys: Sequence[str], settings: Settings) -> dict[str, datetime | None]:
    """Stop keeping the tenant's precomputed phrases of `keys`; for each key that was precomputed,
    None if its audio was freed now, or until when a batch or job that used it keeps it."""
    unpinned: set[str] = set()
    for chunk in in_chunks(keys):
        unpinned.update(
            key
            for key in session.scalars(
                update(Job)
                .where(Job.tenant_id == tenant_id, Job.snippet_key.in_(chunk), _HOLDER)
                .where(Job.pinned.is_(True))
                .values(pinned=False)
                .returning(Job.snippet_key)
                .execution_options(synchronize_session=False)
            )
            if key is not None
        )
    # Judged now rather than at the next pass, so the answer can say what became of each: their
    # time is set to now, then they are judged a moment later, as the sweep would.
    due = utcnow()
    judged_at = due + timedelta(microseconds=1)
    session.execute(
        update(Snippet)
        .where(Snippet.tenant_id == tenant_id, Snippet.key.in_(sorted(unpinned)))
        .values(expires_at=due)
        .execution_options(synchronize_session=False)
    )
    candidates = session.execute(_CANDIDATE.where(Snippet.tenant_id == tenant_id, Snippet.key.in_(sorted(unpinned))))
    verdicts = _judge(session, [Candidate._make(row) for row in candidates], judged_at, settings)
    _apply(session, verdicts, judged_at, settings)
    until = {v.candidate.key: v.next_look for v in verdicts}
    return {key: until.get(key) for key in sorted(unpinned)}


def check_stored(session: Session, tenant_id: str, jobs: Sequence[Job], what: str, settings: Settings) -> None:
    """AudioExpired (410) unless every job's audio is still stored; `what` names the batch or job."""
    keys = list(dict.fromkeys(job.snippet_key for job in jobs if job.snippet_key))
    stored = 0
    for chunk in in_chunks(keys):
        stored += (
            session.scalar(select(func.count()).where(Snippet.tenant_id == tenant_id, Snippet.key.in_(chunk))) or 0
        )
    if stored < len(keys):
        raise AudioExpired(expired_message(what, len(keys) - stored, len(keys), settings))


def expired_message(what: str, missing: int, total: int, settings: Settings) -> str:
    lines = "its audio is" if total == 1 else f"{missing} of its {total} lines' audio are"
    return (
        f"the audio of {what} has expired: {lines} no longer stored (audio is kept "
        f"{settings.snippet_retention_days:g} days after its batch or job ended, VOXQ_SNIPPET_RETENTION_DAYS); "
        "submit it again to have it spoken again"
    )


# --- the sweep -----------------------------------------------------------------------------


@dataclass
class Swept:
    """What one sweep did (or, dry, would do)."""

    batches_closed: int = 0
    rows: int = 0  # snippets deleted (or that would be)
    bytes: int = 0  # their audio
    looked_again: int = 0  # snippets whose time came but a holder still keeps
    book_files: int = 0  # built M4Bs and chapter zips deleted (their bytes are in `bytes` too)
    chunks: int = 0  # statements of at most `snippet_sweep_chunk` rows, each its own transaction
    finished: bool = True  # False: the time budget ran out with rows left for the next pass

    def __str__(self) -> str:
        return (
            f"{self.rows:,} snippets, {self.bytes / 2**20:,.1f} MiB of audio, in {self.chunks} chunks; "
            f"{self.looked_again:,} still kept by a batch, job or precomputed phrase; "
            f"{self.batches_closed:,} batches seen ended; {self.book_files:,} book files"
        )


def sweep(
    new_session: Callable[[], Session],
    settings: Settings,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    budget_s: float | None = None,
    tenant_id: str | None = None,
) -> Swept:
    """Record the end of batches that ended, then delete the snippets no holder keeps any more,
    `snippet_sweep_chunk` rows per statement and a commit after each, so no lock is held for
    long; stops between chunks once `budget_s` is spent. `dry_run` deletes nothing and says what
    it would free. `now` defaults to the clock (tests move it forward instead of waiting);
    `tenant_id` limits the deleting to one tenant's snippets."""
    now = now or utcnow()
    started = time.monotonic()
    swept = Swept()
    with new_session() as session:
        swept.batches_closed = close_ended_batches(session)
        session.commit()
    _sweep_book_files(new_session, swept, now, settings, dry_run=dry_run, tenant_id=tenant_id)
    after: tuple[datetime, int] | None = None
    while True:
        with new_session() as session:
            query = _CANDIDATE.where(Snippet.expires_at < now)
            if tenant_id is not None:
                query = query.where(Snippet.tenant_id == tenant_id)
            if after is not None:
                query = query.where(tuple_(Snippet.expires_at, Snippet.id) > tuple_(*after))
            rows = [Candidate._make(row) for row in session.execute(query.limit(settings.snippet_sweep_chunk))]
            if not rows:
                return swept
            after = (rows[-1].expires_at, rows[-1].id)
            verdicts = _judge(session, rows, now, settings)
            if dry_run:
                gone = [v.candidate for v in verdicts if v.next_look is None and not v.kept]
            else:
                gone = _apply(session, verdicts, now, settings)
                session.commit()
        swept.chunks += 1
        swept.rows += len(gone)
        swept.bytes += sum(c.size for c in gone)
        swept.looked_again += len(verdicts) - len(gone)
        if budget_s is not None and time.monotonic() - started > budget_s:
            swept.finished = False
            return swept


def _sweep_book_files(
    new_session: Callable[[], Session],
    swept: Swept,
    now: datetime,
    settings: Settings,
    *,
    dry_run: bool,
    tenant_id: str | None,
) -> None:
    """Delete the built books (shared/books/files.py) whose retention ran out, a chunk at a time;
    their bytes go with them (ON DELETE CASCADE). A book file holds no snippet: it is kept as
    long from when it was built as a snippet is from when its batch ended."""
    while True:
        with new_session() as session:
            query = select(BookFile.id, BookFile.size).where(BookFile.expires_at < now)
            if tenant_id is not None:
                query = query.where(BookFile.tenant_id == tenant_id)
            rows = session.execute(query.limit(settings.snippet_sweep_chunk)).all()
            if not rows:
                return
            if not dry_run:
                session.execute(delete(BookFile).where(BookFile.id.in_([row.id for row in rows])))
                session.commit()
        swept.chunks += 1
        swept.book_files += len(rows)
        swept.bytes += sum(row.size or 0 for row in rows)
        if dry_run:
            return  # nothing was deleted: the same rows would come again


def close_ended_batches(session: Session) -> int:
    """Set `finished_at` (its last line's) on every batch with no line queued or running."""
    unfinished = exists().where(Job.batch_id == Batch.id, Job.status.in_((JobStatus.queued, JobStatus.running)))
    last = select(func.max(Job.finished_at)).where(Job.batch_id == Batch.id).scalar_subquery()
    result = session.execute(
        update(Batch)
        .where(Batch.finished_at.is_(None), ~unfinished)
        .values(finished_at=last)
        .execution_options(synchronize_session=False)
    )
    # Session.execute is declared to return a Result; an UPDATE's is a CursorResult.
    return cast(CursorResult[Any], result).rowcount


class Candidate(NamedTuple):
    id: int
    tenant_id: str
    key: str
    expires_at: datetime
    size: int
    audio_file: str | None


_CANDIDATE = select(
    Snippet.id,
    Snippet.tenant_id,
    Snippet.key,
    Snippet.expires_at,
    func.coalesce(Snippet.size, func.length(Snippet.audio)),
    Snippet.audio_file,
).order_by(Snippet.expires_at, Snippet.id)


@dataclass(frozen=True)
class Verdict:
    candidate: Candidate
    kept: bool  # a precomputed phrase: kept until deleted
    next_look: datetime | None  # None (and not kept): its holders let it go, delete it


def _judge(session: Session, rows: Sequence[Candidate], now: datetime, settings: Settings) -> list[Verdict]:
    """For each snippet, from all its holders: keep it for good, look again later, or delete it."""
    keep_for = retention(settings)
    holders = _holders(session, [row.key for row in rows])
    verdicts = []
    for row in rows:
        last_end, open_holders, pins = holders.get((row.tenant_id, row.key), (None, 0, 0))
        if pins:
            verdicts.append(Verdict(row, kept=True, next_look=None))
        elif open_holders:  # a batch or job still running: it ends no sooner than now
            verdicts.append(Verdict(row, kept=False, next_look=now + keep_for))
        elif last_end is not None and last_end + keep_for > now:
            verdicts.append(Verdict(row, kept=False, next_look=last_end + keep_for))
        else:
            verdicts.append(Verdict(row, kept=False, next_look=None))
    return verdicts


def _holders(session: Session, keys: Sequence[str]) -> dict[tuple[str, str], tuple[datetime | None, int, int]]:
    """Per (tenant, key): the last end of an ordinary holder, how many have not ended, how many pins."""
    ordinary = Job.pinned.is_(None)
    ended = case((Job.batch_id.is_(None), Job.finished_at), else_=Batch.finished_at)
    query = (
        select(
            Job.tenant_id,
            Job.snippet_key,
            func.max(case((ordinary, ended))),
            func.count(case((and_(ordinary, ended.is_(None)), 1))),
            func.count(case((Job.pinned.is_(True), 1))),
        )
        .select_from(Job)
        .outerjoin(Batch, Batch.id == Job.batch_id)
        .where(Job.snippet_key.in_(keys), _HOLDER)
        .group_by(Job.tenant_id, Job.snippet_key)
    )
    return {(tenant, key): (last, open_, pins) for tenant, key, last, open_, pins in session.execute(query)}


def _apply(session: Session, verdicts: Sequence[Verdict], now: datetime, settings: Settings) -> list[Candidate]:
    """Delete the snippets let go and set when to look at the others again; each write only
    while `expires_at` is still past, so a submission that has just reused a snippet (and so
    pushed its time out) keeps it. Returns the snippets deleted."""
    doomed = {v.candidate.id: v.candidate for v in verdicts if v.next_look is None and not v.kept}
    deleted: list[int] = []
    if doomed:
        deleted = list(
            session.scalars(
                delete(Snippet)
                .where(Snippet.id.in_(list(doomed)), Snippet.expires_at < now)
                .returning(Snippet.id)
                .execution_options(synchronize_session=False)
            )
        )
    later = [
        {"snippet_id": v.candidate.id, "look": v.next_look, "now_": now}
        for v in verdicts
        if v.candidate.id not in doomed
    ]
    if deleted and (folder := audio_folder(settings)):
        remove_when_committed(session, folder, [f for i in deleted if (f := doomed[i].audio_file) is not None])
    if later:  # one statement run as an executemany, on the table (not the ORM's bulk update by key)
        session.execute(_LOOK_AGAIN, later)
    return [doomed[i] for i in deleted]


_LOOK_AGAIN = (
    update(_SNIPPETS)
    .where(_SNIPPETS.c.id == bindparam("snippet_id"), _SNIPPETS.c.expires_at < bindparam("now_"))
    .values(expires_at=bindparam("look"))
)


def database_space(session: Session) -> dict[str, int]:
    """What the database takes on disk: SQLite's file and its free pages (deleted rows leave
    pages free for new rows; only VACUUM gives them back to the file system), or the size of
    Postgres's snippets table with its TOAST and indexes."""
    if session.get_bind().dialect.name == "sqlite":
        page = int(session.execute(text("PRAGMA page_size")).scalar_one())
        pages = int(session.execute(text("PRAGMA page_count")).scalar_one())
        free = int(session.execute(text("PRAGMA freelist_count")).scalar_one())
        return {"file_bytes": page * pages, "free_bytes": page * free}
    size = session.execute(text("SELECT pg_total_relation_size('snippets')")).scalar_one()
    return {"snippets_table_bytes": int(size)}


def vacuum() -> None:
    """Give freed space back to the file system: SQLite rewrites the whole file (writers wait
    meanwhile, so it is never part of the periodic sweep); Postgres's plain VACUUM of the
    snippets table makes their space reusable and returns empty pages at the table's end."""
    from shared.db import get_engine

    engine = get_engine()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("VACUUM"))
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        else:
            connection.execute(text("VACUUM snippets"))
