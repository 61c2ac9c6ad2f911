"""Dialect identification: POST /v1/dialect (one text) and /v1/dialect/batch (many).

The CPU detector answers every text at once. When an LLM is configured (VOXQ_LLM_URL), the
job goes to the LLM pool instead, whose answer is combined with the CPU evidence there.
"""

from fastapi import APIRouter, Request, Response

from api.deps import SessionDep, TenantDep
from api.routes.batches import batch_out
from api.routes.jobs import job_out
from shared.models import Batch, Job, JobKind
from shared.schemas import BatchOut, DialectBatchRequest, DialectText, JobOut
from workers.submit import DIALECT_TASK, create_dialect_jobs, enqueue_committed

router = APIRouter(prefix="/v1/dialect", tags=["dialect"])


@router.post("", response_model=JobOut, status_code=202)
def identify(body: DialectText, session: SessionDep, tenant: TenantDep, request: Request, response: Response) -> JobOut:
    """Which variety the text is in. 200 with the answer when the CPU detector decides alone;
    202 with a queued job when the LLM pool is asked too (poll GET /v1/jobs/{id})."""
    [job_id], queued = create_dialect_jobs(session, tenant, [body])
    session.commit()
    if queued:
        enqueue_committed(session, DIALECT_TASK, queued)
    else:
        response.status_code = 200
    return job_out(session.get_one(Job, job_id), request)


@router.post("/batch", response_model=BatchOut, status_code=202)
def identify_many(body: DialectBatchRequest, session: SessionDep, tenant: TenantDep, request: Request) -> BatchOut:
    """Many texts as one batch (kind ``dialect``); results at /v1/batches/{id}/jobs."""
    batch = Batch(tenant_id=tenant, kind=JobKind.dialect, lines=len(body.items), options={})
    session.add(batch)
    session.flush()
    _, queued = create_dialect_jobs(session, tenant, body.items, batch_id=batch.id)
    session.commit()
    enqueue_committed(session, DIALECT_TASK, queued)
    return batch_out(session, batch, request)
