"""Tables. The database is the source of truth for every job; Celery only carries job ids."""

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Width of name and id columns (tenant and voice names, a line's own id): what fits is checked
# before a row is written, so an over-long one is a 413, not a database error.
NAME_CHARS = 200


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class JobKind(enum.StrEnum):
    synthesis = "synthesis"
    generation = "generation"
    dialect = "dialect"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ten"))
    name: Mapped[str] = mapped_column(String(NAME_CHARS), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The tenant's own daily quotas (`voxq keys limits`); None: the deployment's
    # (VOXQ_DAILY_SYNTH_CHARS, VOXQ_DAILY_LLM_JOBS); 0: none for this tenant.
    daily_synth_chars: Mapped[int | None] = mapped_column(Integer, default=None)
    daily_llm_jobs: Mapped[int | None] = mapped_column(Integer, default=None)


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
    audio: Mapped[bytes] = mapped_column(LargeBinary)  # FLAC
    sample_rate: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("batch"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[JobKind] = mapped_column(Enum(JobKind, native_enum=False, length=20))
    lines: Mapped[int] = mapped_column(Integer)  # lines of the script (a line may have several jobs)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_batch_status", "batch_id", "status"),
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("job"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), default=None)
    line: Mapped[int | None] = mapped_column(Integer, default=None)  # line number in the batch
    line_id: Mapped[str | None] = mapped_column(String(NAME_CHARS), default=None)  # caller's id of the line
    parent_id: Mapped[str | None] = mapped_column(String(40), default=None)  # job that created this one
    kind: Mapped[JobKind] = mapped_column(Enum(JobKind, native_enum=False, length=20))
    status: Mapped[JobStatus] = mapped_column(Enum(JobStatus, native_enum=False, length=20), default=JobStatus.queued)
    input: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    snippet_key: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # While running: the worker (Celery node name) and until when it holds the job. The worker
    # renews the lease while it works; a lease that runs out means the worker was lost, and
    # the reconciler queues the job again (shared/reconcile.py).
    worker: Mapped[str | None] = mapped_column(String(NAME_CHARS), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
