"""POST /v1/generate: a chat reply as a job, optionally spoken by the TTS pool afterwards."""

from collections.abc import Sequence

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from api.deps import SessionDep, TenantDep
from api.presenters import batch_out, job_out
from shared import submit
from shared.config import get_settings
from shared.errors import EngineUnavailable
from shared.models import Job, JobKind
from shared.schemas import BatchOut, GenerateBatchRequest, GenerateRequest, JobOut
from shared.voices import resolve_voice

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
    """Queue one reply; with `speak`, a synthesis job (result.speech_job_id) speaks it when done."""
    require_llm()
    check_speak_voices(session, tenant, [body])
    submitted = submit.submit(session, tenant, submit.generation_jobs([body]))
    return job_out(session.get_one(Job, submitted.job_ids[0]), request)


@router.post("/batch", response_model=BatchOut, status_code=202)
def generate_batch(body: GenerateBatchRequest, session: SessionDep, tenant: TenantDep, request: Request) -> BatchOut:
    """Queue many replies as one batch (kind `generation`); follow it at /v1/batches/{id}."""
    require_llm()
    check_speak_voices(session, tenant, body.items)
    new_jobs = submit.generation_jobs(body.items)
    batch = submit.create_batch(session, tenant, JobKind.generation, new_jobs, options={"pool": "llm"})
    return batch_out(session, batch, request)
