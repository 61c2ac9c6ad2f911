"""POST /v1/generate: a chat reply as a job, optionally spoken by the TTS pool afterwards."""

from fastapi import APIRouter, Request

from api.deps import SessionDep, TenantDep
from api.llm_jobs import check_speak_voices, create_llm_batch, create_llm_jobs, require_llm
from api.routes.batches import batch_out
from api.routes.jobs import job_out
from shared.models import Job, JobKind
from shared.schemas import BatchOut, GenerateBatchRequest, GenerateRequest, JobOut
from workers.submit import GENERATE_TASK, enqueue_committed

router = APIRouter(prefix="/v1/generate", tags=["generation"])


@router.post("", response_model=JobOut, status_code=202)
def generate(body: GenerateRequest, session: SessionDep, tenant: TenantDep, request: Request) -> JobOut:
    """Queue one reply. With ``speak``, the finished reply becomes a synthesis job whose
    ``parent_id`` is this job; its id appears in this job's ``result.speech_job_id``."""
    require_llm()
    check_speak_voices(session, tenant, [body])
    [job_id] = create_llm_jobs(session, tenant, JobKind.generation, [body])
    session.commit()
    enqueue_committed(session, GENERATE_TASK, [job_id])
    return job_out(session.get_one(Job, job_id), request)


@router.post("/batch", response_model=BatchOut, status_code=202)
def generate_batch(body: GenerateBatchRequest, session: SessionDep, tenant: TenantDep, request: Request) -> BatchOut:
    """Queue many replies as one batch (kind ``generation``); follow it at /v1/batches/{id}."""
    require_llm()
    check_speak_voices(session, tenant, body.items)
    batch, job_ids = create_llm_batch(session, tenant, JobKind.generation, body.items)
    session.commit()
    enqueue_committed(session, GENERATE_TASK, job_ids)
    return batch_out(session, batch, request)
