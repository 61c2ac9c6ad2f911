"""Creating jobs and putting them on the queues: one bulk insert, cache hits answered at
once, one bulk enqueue. Used by the API, and by tasks that start further jobs (a generated
reply that is to be spoken)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.dialect.answer import cpu_answer, cpu_reason
from shared.dialect.detector import detect
from shared.errors import BadInput, EngineUnavailable, TooLarge
from shared.models import Job, JobKind, JobStatus, new_id, utcnow
from shared.schemas import DialectText, GenerateRequest
from shared.snippets import cached_keys, key_prefix, snippet_key
from shared.text import clean
from shared.text_normalize import normalize_zh
from shared.voices import dialect_voices, resolve_voice
from workers.enqueue import enqueue_jobs, job_ids_on_broker, queue_for

logger = logging.getLogger(__name__)

SYNTHESIZE_TASK = "voxq.tts.synthesize"
GENERATE_TASK = "voxq.llm.generate"
DIALECT_TASK = "voxq.llm.dialect"
TASK_FOR_KIND = {JobKind.synthesis: SYNTHESIZE_TASK, JobKind.generation: GENERATE_TASK, JobKind.dialect: DIALECT_TASK}


def jobs_per_message(task_name: str) -> int | None:
    """LLM jobs travel in groups, which the LLM worker sends to vLLM as batch requests;
    a synthesis message carries one job."""
    return get_settings().llm_group_size if task_name in (DIALECT_TASK, GENERATE_TASK) else None


def enqueue(task_name: str, job_ids: Sequence[str]) -> None:
    enqueue_jobs(task_name, job_ids, jobs_per_message(task_name))


@dataclass(frozen=True)
class ScriptLine:
    number: int  # 1-based line (or record) number in the upload, for error messages
    text: str
    voice: str | None = None
    id: str | None = None
    dialect: str | None = None  # set when the line's dialect chose its voice


def speech_text(text: str) -> str:
    """The text an engine is given (and the cache key is made of): cleaned, and digits,
    dates, money and units written as words, since no engine reads them reliably."""
    return normalize_zh(clean(text))


def checked_text(text: str, field: str = "text") -> str:
    """A single job's text, cleaned; BadInput if empty, TooLarge if over the limit."""
    text = clean(text)
    if not text:
        raise BadInput(f"{field} is empty")
    limit = get_settings().max_text_chars
    if len(text) > limit:
        raise TooLarge(f"{field} has {len(text)} characters; the limit is {limit} (use /v1/batches for scripts)")
    return text


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


def create_synthesis_jobs(
    session: Session,
    tenant_id: str,
    lines: Sequence[ScriptLine],
    default_voice: str | None,
    speed: float = 1.0,
    fmt: str = "wav",
    batch_id: str | None = None,
    parent_id: str | None = None,
) -> tuple[list[str], list[str]]:
    """Insert one synthesis job per line; returns (all job ids, ids still to be queued).

    Lines whose audio is already cached are stored as succeeded and never queued.
    Raises BadInput (unknown voice, ...) before anything is written.
    """
    settings = get_settings()
    engine = settings.tts_engine
    model = settings.fish_speech_model if engine == "fish_speech" else None
    prefixes: dict[str | None, bytes] = {}
    for name in {line.voice or default_voice for line in lines}:
        prefixes[name] = key_prefix(resolve_voice(session, tenant_id, name, engine, speed), engine, model)
    now = utcnow()
    rows = []
    for line in lines:
        voice_name = line.voice or default_voice
        text = speech_text(line.text)
        rows.append(
            {
                "id": new_id("job"),
                "tenant_id": tenant_id,
                "batch_id": batch_id,
                "line": line.number if batch_id else None,
                "line_id": line.id,
                "parent_id": parent_id,
                "kind": JobKind.synthesis,
                "status": JobStatus.queued,
                "input": {"text": text, "voice": voice_name, "speed": speed, "format": fmt}
                | ({"dialect": line.dialect} if line.dialect else {}),
                "snippet_key": snippet_key(prefixes[voice_name], text),
                "attempts": 0,
                "created_at": now,
            }
        )
    hits = cached_keys(session, tenant_id, (row["snippet_key"] for row in rows))
    queued = []
    for row in rows:
        if row["snippet_key"] in hits:
            row.update(status=JobStatus.succeeded, result={"cached": True}, finished_at=now)
        else:
            queued.append(row["id"])
    session.execute(insert(Job), rows)
    return [row["id"] for row in rows], queued


def create_dialect_jobs(
    session: Session, tenant_id: str, items: Sequence[DialectText], batch_id: str | None = None
) -> tuple[list[str], list[str]]:
    """One job per text; returns (all job ids, ids to enqueue: none when there is no LLM to ask)."""
    use_llm = bool(get_settings().llm_url)
    now = utcnow()
    rows = []
    for number, item in enumerate(items, start=1):
        text = clean(item.text)
        if not text:
            raise BadInput(f"item {number}: text is empty")
        row = {
            "id": new_id("job"),
            "tenant_id": tenant_id,
            "batch_id": batch_id,
            "line": number if batch_id else None,
            "line_id": item.id,
            "kind": JobKind.dialect,
            "input": {"text": text, "context": item.context},
            "attempts": 0,
            "created_at": now,
            "status": JobStatus.queued,
        }
        if not use_llm:
            result = detect(text)
            row.update(status=JobStatus.succeeded, result=cpu_answer(result, cpu_reason(result)), finished_at=now)
        rows.append(row)
    session.execute(insert(Job), rows)
    return [row["id"] for row in rows], [row["id"] for row in rows if row["status"] == JobStatus.queued]


def create_generation_jobs(
    session: Session, tenant_id: str, items: Sequence[GenerateRequest], batch_id: str | None = None
) -> list[str]:
    """Insert one queued generation job per request (input stored as validated JSON)."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for number, item in enumerate(items, start=1):
        data = item.model_dump(mode="json")
        rows.append(
            {
                "id": new_id("job"),
                "tenant_id": tenant_id,
                "batch_id": batch_id,
                "line": number if batch_id else None,
                "line_id": data.pop("id", None),
                "kind": JobKind.generation,
                "status": JobStatus.queued,
                "input": data,
                "attempts": 0,
                "created_at": now,
            }
        )
    session.execute(insert(Job), rows)
    return [row["id"] for row in rows]


def requeue_stale(session: Session, older_than_s: float) -> dict[str, int]:
    """Enqueue again every job still queued after `older_than_s` seconds that has no message
    on the broker: its message was lost (the broker was flushed, or a process died between
    committing a job and enqueuing it). A job waiting its turn in a long backlog still has
    its message and is left alone, so this is safe to run on a schedule.
    """
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    stale = session.execute(
        select(Job.kind, Job.id).where(Job.status == JobStatus.queued, Job.created_at <= cutoff)
    ).all()
    on_broker = job_ids_on_broker([queue_for(task) for task in TASK_FOR_KIND.values()]) if stale else set()
    counts: dict[str, int] = {}
    for kind, task in TASK_FOR_KIND.items():
        ids = [job_id for job_kind, job_id in stale if job_kind == kind and job_id not in on_broker]
        enqueue(task, ids)
        counts[kind.value] = len(ids)
    return counts


def enqueue_committed(session: Session, task_name: str, job_ids: list[str]) -> None:
    """Enqueue jobs whose rows are committed; if the broker is down, fail them rather than
    leave them queued forever, and tell the caller."""
    try:
        enqueue(task_name, job_ids)
    except Exception as exc:  # redis-py raises several unrelated classes for a dead broker
        logger.error("could not enqueue %d jobs: %s", len(job_ids), exc)
        for start in range(0, len(job_ids), 500):
            session.execute(
                update(Job)
                .where(Job.id.in_(job_ids[start : start + 500]))
                .values(status=JobStatus.failed, error=f"could not reach the queue: {exc}", finished_at=utcnow())
            )
        session.commit()
        raise EngineUnavailable(f"the job queue (Redis) is unreachable: {exc}") from None
