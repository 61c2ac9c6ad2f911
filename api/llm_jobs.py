"""Turning LLM requests (generation, dialect identification) into jobs on the ``llm`` queue.

The API never talks to the model: it validates, writes the job rows in one insert, and the
caller enqueues them after the commit (``api.submit.enqueue_committed``).
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.errors import EngineUnavailable
from shared.models import Batch, Job, JobKind, JobStatus, new_id, utcnow
from shared.schemas import DialectText, GenerateRequest
from shared.voices import resolve_voice


def require_llm() -> None:
    """Refuse LLM work up front when the deployment has no LLM server."""
    if not get_settings().llm_url:
        raise EngineUnavailable("this deployment has no LLM server (VOXQ_LLM_URL is not set)")


def check_speak_voices(session: Session, tenant_id: str, requests: Sequence[GenerateRequest]) -> None:
    """Fail a request whose reply is to be spoken in an unknown voice now, not after generating."""
    engine = get_settings().tts_engine
    for voice in {(r.speak.voice, r.speak.speed) for r in requests if r.speak is not None}:
        resolve_voice(session, tenant_id, voice[0], engine, voice[1])


def create_llm_jobs(
    session: Session,
    tenant_id: str,
    kind: JobKind,
    items: Sequence[GenerateRequest | DialectText],
    batch_id: str | None = None,
) -> list[str]:
    """Insert one queued job per item (inputs stored as validated JSON); returns their ids."""
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
                "kind": kind,
                "status": JobStatus.queued,
                "input": data,
                "attempts": 0,
                "created_at": now,
            }
        )
    session.execute(insert(Job), rows)
    return [row["id"] for row in rows]


def create_llm_batch(
    session: Session, tenant_id: str, kind: JobKind, items: Sequence[GenerateRequest | DialectText]
) -> tuple[Batch, list[str]]:
    batch = Batch(tenant_id=tenant_id, kind=kind, lines=len(items), options={"pool": "llm"})
    session.add(batch)
    session.flush()
    return batch, create_llm_jobs(session, tenant_id, kind, items, batch_id=batch.id)
