"""POST /v1/generate: a chat reply as a job, optionally spoken by the TTS pool afterwards."""

from collections.abc import Sequence

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from api.deps import SessionDep, TenantDep
from api.routes.batches import batch_out
from api.routes.jobs import job_out
from shared.config import get_settings
from shared.errors import EngineUnavailable
from shared.models import Batch, Job, JobKind
from shared.schemas import BatchOut, GenerateBatchRequest, GenerateRequest, JobOut
from shared.voices import resolve_voice
from workers.submit import GENERATE_TASK, create_generation_jobs, enqueue_committed

router = APIRouter(prefix="/v1/generate", tags=["generation"])


def require_llm() -> None:
    """Refuse LLM work up front when the deployment has no LLM server."""
    if not get_settings().llm_url:
        raise EngineUnavailable("this deployment has no LLM server (VOXQ_LLM_URL is not set)")


def check_speak_voices(session: Session, tenant_id: str, requests: Sequence[GenerateRequest]) -> None:
    """Fail a request whose reply is to be spoken in an unknown voice now, not after generating."""
    engine = get_settings().tts_engine
    for voice, speed in {(r.speak.voice, r.speak.speed) for r in requests if r.speak is not None}:
        resolve_voice(session, tenant_id, voice, engine, speed)


@router.post("", response_model=JobOut, status_code=202)
def generate(body: GenerateRequest, session: SessionDep, tenant: TenantDep, request: Request) -> JobOut:
    """Queue one reply. With ``speak``, the finished reply becomes a synthesis job whose
    ``parent_id`` is this job; its id appears in this job's ``result.speech_job_id``."""
    require_llm()
    check_speak_voices(session, tenant, [body])
    [job_id] = create_generation_jobs(session, tenant, [body])
    session.commit()
    enqueue_committed(session, GENERATE_TASK, [job_id])
    return job_out(session.get_one(Job, job_id), request)


@router.post("/batch", response_model=BatchOut, status_code=202)
def generate_batch(body: GenerateBatchRequest, session: SessionDep, tenant: TenantDep, request: Request) -> BatchOut:
    """Queue many replies as one batch (kind ``generation``); follow it at /v1/batches/{id}."""
    require_llm()
    check_speak_voices(session, tenant, body.items)
    batch = Batch(tenant_id=tenant, kind=JobKind.generation, lines=len(body.items), options={"pool": "llm"})
    session.add(batch)
    session.flush()
    job_ids = create_generation_jobs(session, tenant, body.items, batch_id=batch.id)
    session.commit()
    enqueue_committed(session, GENERATE_TASK, job_ids)
    return batch_out(session, batch, request)
