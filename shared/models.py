"""Tables. The database is the source of truth for every job; Celery only carries job ids."""

import enum
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Width of name and id columns (tenant and voice names, a line's own id): what fits is checked
# before a row is written, so an over-long one is a 413, not a database error.
NAME_CHARS = 200


def new_id(prefix: str) -> str:
    """`prefix_` and 32 hex digits: the time in ms (12), then 80 random bits, as UUIDv7 orders
    them. Ids made later sort later, so a batch's 10,000 rows go to the right edge of the
    primary-key index instead of 10,000 random pages of it (which, once the index outgrows the
    database's cache, made accepting a batch slower the more jobs there were)."""
    return f"{prefix}_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, always read back as an aware UTC datetime. Postgres's timestamptz is aware;
    SQLite keeps no zone and gives back naive datetimes, which are UTC since every write is
    `utcnow()`. One type, so no module compares naive with aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UtcDateTime()}


class JobKind(enum.StrEnum):
    synthesis = "synthesis"
    generation = "generation"
    dialect = "dialect"
    # A finished book's M4B or chapters zip, assembled once by a media worker (shared/books/assemble.py).
    book = "book"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    # A batch's line that was cancelled before it started (POST /v1/batches/{id}/cancel); it never runs.
    cancelled = "cancelled"


# The states a job never leaves.
FINISHED = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ten"))
    name: Mapped[str] = mapped_column(String(NAME_CHARS), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The tenant's own daily quotas (`voxq keys limits`); None: the deployment's
    # (VOXQ_DAILY_SYNTH_CHARS, VOXQ_DAILY_LLM_JOBS); 0: none for this tenant.
    daily_synth_chars: Mapped[int | None] = mapped_column(Integer, default=None)
    daily_llm_jobs: Mapped[int | None] = mapped_column(Integer, default=None)
    # The key that signs its webhooks (shared/webhooks/callbacks.py): stored as it is, since signing needs it,
    # and shown once, when it is made. None: the tenant has none, and cannot set a callback_url.
    webhook_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    # Its share of the workers against other tenants' waiting lines (shared/jobs/dispatch.py): a
    # tenant of weight 2 gets two lines to another's one. `voxq keys limits --weight` sets it.
    weight: Mapped[float] = mapped_column(Float, default=1.0)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("key"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell keys apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Voice(Base):
    """A voice of the library: a reference clip and its exact transcript, for zero-shot cloning."""

    __tablename__ = "voices"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("voice"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_CHARS))
    reference_audio: Mapped[bytes] = mapped_column(LargeBinary)  # FLAC
    reference_text: Mapped[str] = mapped_column(Text)
    reference_sha256: Mapped[str] = mapped_column(String(64))
    sample_rate: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    dialect: Mapped[str | None] = mapped_column(String(16), default=None)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # seed, temperature, top_p
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lexicon(Base):
    """A tenant's pronunciation lexicon (shared/text/pronunciation.py): word → what is said, replaced whole."""

    __tablename__ = "lexicons"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    entries: Mapped[dict[str, Any]] = mapped_column(default=dict)  # word → respelling or pinyin reading
    sha256: Mapped[str] = mapped_column(String(64))  # of the entries: the version a compiled lexicon is kept by
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Snippet(Base):
    """Synthesised audio, content-addressed: the key hashes text, voice, engine and parameters."""

    __tablename__ = "snippets"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    voice: Mapped[str] = mapped_column(String(NAME_CHARS))
    engine: Mapped[str] = mapped_column(String(40))
    # FLAC, here or (VOXQ_AUDIO_DIR) in the file `audio_file` names: shared/audio/folder.py.
    audio: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    audio_file: Mapped[str | None] = mapped_column(String(100), default=None)
    size: Mapped[int | None] = mapped_column(Integer, default=None)  # bytes of audio; None: stored before 0012
    sample_rate: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the retention sweep next looks at it; None: never (a precomputed phrase's). Never later
    # than the moment the jobs and batches that used it let it go (shared/audio/retention.py).
    expires_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (
        # The dispatcher's list of batches with lines waiting: as long as the batches, not their lines.
        Index(
            "ix_batches_waiting",
            "kind",
            "lane",
            postgresql_where=text("undispatched > 0"),
            sqlite_where=text("undispatched > 0"),
        ),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("batch"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[JobKind] = mapped_column(Enum(JobKind, native_enum=False, length=20))
    lines: Mapped[int] = mapped_column(Integer)  # lines of the script (a line may have several jobs)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When its last line finished, set by the retention sweep once none is queued or running;
    # its audio is kept VOXQ_SNIPPET_RETENTION_DAYS from then.
    finished_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    # The dispatcher's (shared/jobs/dispatch.py): lines still waiting in the database for it, and the
    # batch's place in its tenant's turns (the lines it has been given, so far).
    undispatched: Mapped[int] = mapped_column(Integer, default=0)
    lane: Mapped[str] = mapped_column(String(10), default="bulk")  # the lane its lines go in: bulk or live
    dispatch_pass: Mapped[float] = mapped_column(Float, default=0.0)


class BatchChapter(Base):
    """A chapter of a book (an EPUB, or a script with `# ` headings): its lines are the batch's
    jobs with this `chapter` number, in line order."""

    __tablename__ = "batch_chapters"
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1, 2, ... in reading order
    title: Mapped[str] = mapped_column(Text)


class BatchCover(Base):
    """A book's cover image, as the EPUB had it (JPEG or PNG), for the M4B's attached picture."""

    __tablename__ = "batch_covers"
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(40))
    image: Mapped[bytes] = mapped_column(LargeBinary)


# The jobs that hold a snippet (shared/audio/retention.py) and are in ix_jobs_snippet_key: those
# sent to a worker, and the lines answered from the cache at submission. A batch's line waiting in
# the database (or cancelled before it was sent) has used no audio: when it is sent, its worker
# looks in the cache again.
SNIPPET_HOLDERS = "dispatched_at IS NOT NULL OR status = 'succeeded'"
# The rows of the reconciler's two indexes (shared/jobs/state.py: requeue_expired, resend_lost).
LEASED = "status = 'running'"
SENT_NOT_STARTED = "status = 'queued' AND dispatched_at IS NOT NULL"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_batch_status", "batch_id", "status"),
        # The reconciler's: running jobs whose lease ran out, and jobs sent to the broker long ago
        # and still not started. Each holds only those (migration 0013): what runs or is in
        # flight, never a batch's waiting lines, which would make every acceptance write to
        # them and every waiting line sit in them.
        Index(
            "ix_jobs_status_lease",
            "status",
            "lease_expires_at",
            postgresql_where=text(LEASED),
            sqlite_where=text(LEASED),
        ),
        Index(
            "ix_jobs_status_dispatched",
            "status",
            "dispatched_at",
            postgresql_where=text(SENT_NOT_STARTED),
            sqlite_where=text(SENT_NOT_STARTED),
        ),
        # The dispatcher's: a batch's next waiting lines, in line order, an index scan of only
        # what waits (the rows leave the index when they are sent).
        Index(
            "ix_jobs_backlog",
            "kind",
            "batch_id",
            "line",
            postgresql_where=text("status = 'queued' AND dispatched_at IS NULL"),
            sqlite_where=text("status = 'queued' AND dispatched_at IS NULL"),
        ),
        # The holders of a snippet (shared/audio/retention.py), asked by equality alone: a hash
        # index on Postgres (migration 0010); SQLite has only B-trees. Snippet keys are random, so
        # each row put in goes to a page of its own: only the jobs that can hold a snippet are
        # (SNIPPET_HOLDERS), never a batch's waiting lines, so that accepting a batch costs the
        # same however many lines wait; each line comes in when it is sent (migration 0011).
        Index(
            "ix_jobs_snippet_key",
            "snippet_key",
            postgresql_using="hash",
            postgresql_where=text(SNIPPET_HOLDERS),
            sqlite_where=text(SNIPPET_HOLDERS),
        ),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("job"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), default=None)
    line: Mapped[int | None] = mapped_column(Integer, default=None)  # line number in the batch
    line_id: Mapped[str | None] = mapped_column(String(NAME_CHARS), default=None)  # caller's id of the line
    chapter: Mapped[int | None] = mapped_column(Integer, default=None)  # a book's chapter (batch_chapters.number)
    parent_id: Mapped[str | None] = mapped_column(String(40), default=None)  # job that created this one
    kind: Mapped[JobKind] = mapped_column(Enum(JobKind, native_enum=False, length=20))
    status: Mapped[JobStatus] = mapped_column(Enum(JobStatus, native_enum=False, length=20), default=JobStatus.queued)
    input: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    snippet_key: Mapped[str | None] = mapped_column(String(64), default=None)
    # A /v1/snippets/precompute job: True while its phrase is kept (its audio stays until deleted),
    # False once deleted (it then keeps nothing); None for every other job (shared/audio/retention.py).
    pinned: Mapped[bool | None] = mapped_column(Boolean, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # While running: the worker (Celery node name) and until when it holds the job. The worker
    # renews the lease while it works; a lease that runs out means the worker was lost, and
    # the reconciler queues the job again (shared/jobs/reconcile.py).
    worker: Mapped[str | None] = mapped_column(String(NAME_CHARS), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # When its message was last sent to the broker (or, waiting for a retry, when that message is
    # due); None while it waits in the database for the dispatcher (a batch's line in the bulk
    # lane). Queued long after this, its message was lost: the reconciler sends it again.
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)


# Longest callback URL accepted (what browsers and most servers handle).
URL_CHARS = 2000


class DeliveryState(enum.StrEnum):
    waiting = "waiting"  # its batch or job has not ended yet
    pending = "pending"  # fired: to send, or to send again at next_attempt_at
    delivered = "delivered"  # a 2xx answered
    failed = "failed"  # given up after VOXQ_WEBHOOK_RETRY_FOR_S


class WebhookDelivery(Base):
    """A webhook to send when a batch or a single job ends (shared/webhooks/callbacks.py). Made with its
    batch or job, in the same transaction, so no end is missed; the reconciler's sweep fires
    it once its subject has ended and sends it until a 2xx answers or it gives up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # One event per batch or job: firing twice is impossible, whatever runs concurrently.
        UniqueConstraint("batch_id", "event", name="uq_webhook_deliveries_batch_event"),
        UniqueConstraint("job_id", "event", name="uq_webhook_deliveries_job_event"),
        Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("evt"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), default=None)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), default=None)
    event: Mapped[str] = mapped_column(String(40))  # batch.finished, job.finished
    url: Mapped[str] = mapped_column(String(URL_CHARS))
    state: Mapped[DeliveryState] = mapped_column(
        Enum(DeliveryState, native_enum=False, length=20), default=DeliveryState.waiting
    )
    body: Mapped[str | None] = mapped_column(Text, default=None)  # the event's JSON, the same bytes every attempt
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column(default=None)  # when its subject was seen ended
    finished_at: Mapped[datetime | None] = mapped_column(default=None)  # delivered, or given up


class WebhookAttempt(Base):
    """One try at sending a delivery, and what came of it."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)  # 1 for the first
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)  # None: no answer (see error)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[float] = mapped_column(Float)


class BookFile(Base):
    """A finished book's audio as one file (an M4B, or a zip of its chapters), built once by the
    book job `job_id` and served from here with range requests. `key` hashes what the file is
    made of (every line's snippet, the cover, the output and the settings that shape it), so a
    book whose lines change gets a new file; the bytes are in `book_file_chunks`
    (shared/books/files.py), kept as long as snippets are (VOXQ_SNIPPET_RETENTION_DAYS)."""

    __tablename__ = "book_files"
    __table_args__ = (UniqueConstraint("batch_id", "key"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("file"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    output: Mapped[str] = mapped_column(String(20))  # m4b, chapters
    format: Mapped[str] = mapped_column(String(20))  # aac for an M4B; the chapters' audio format
    job_id: Mapped[str] = mapped_column(String(40))  # the book job building it (the newest, after a failed one)
    media_type: Mapped[str] = mapped_column(String(60))
    filename: Mapped[str] = mapped_column(String(NAME_CHARS))
    size: Mapped[int | None] = mapped_column(Integer, default=None)  # bytes; None until it is built
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)  # of its audio, once built
    chapters: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    built_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the retention sweep deletes it; set when it is built.
    expires_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class BookFileChunk(Base):
    """A piece of a book file's bytes, in order: a range request reads only the pieces it covers."""

    __tablename__ = "book_file_chunks"
    file_id: Mapped[str] = mapped_column(ForeignKey("book_files.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0, 1, ... each FILE_CHUNK bytes but the last
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DispatchShare(Base):
    """A tenant's place in the turns of one pool's bulk lane (shared/jobs/dispatch.py): the lines it
    has been given so far, divided by its weight. The tenant furthest behind goes next."""

    __tablename__ = "dispatch_shares"
    pool: Mapped[str] = mapped_column(String(20), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    dispatch_pass: Mapped[float] = mapped_column(Float, default=0.0)


class DispatchClock(Base):
    """A pool's virtual time: the place of the tenant furthest behind at the last step. A tenant
    that starts waiting again joins there, so time spent idle earns it no burst of turns."""

    __tablename__ = "dispatch_clocks"
    pool: Mapped[str] = mapped_column(String(20), primary_key=True)
    vtime: Mapped[float] = mapped_column(Float, default=0.0)
