"""Dialect identification: POST /v1/dialect (one text) and /v1/dialect/batch (many).

The CPU detector answers every text at once. When an LLM is configured (VOXQ_LLM_URL), the
job goes to the LLM pool instead, whose answer is combined with the CPU evidence there.
"""

from fastapi import APIRouter, Request, Response

from api.deps import RATE_LIMIT, SessionDep, TenantDep
from api.presenters import batch_out, job_out
from api.schemas import BatchOut, DialectBatchRequest, DialectRequest, JobOut
from shared.jobs import submit
from shared.models import Job, JobKind
from shared.webhooks import callbacks

# Both routes submit jobs: the rate limit is the router's.
router = APIRouter(prefix="/v1/dialect", tags=["dialect"], dependencies=[RATE_LIMIT])


@router.post("", response_model=JobOut, status_code=202)
def identify(
    body: DialectRequest, session: SessionDep, tenant: TenantDep, request: Request, response: Response
) -> JobOut:
    """Name the variety of one text: 200 with the CPU answer, or 202 while the LLM pool is asked."""
    callback = callbacks.callback_for(session, tenant, body.callback_url)
    submitted = submit.submit(session, tenant, submit.dialect_jobs([body]), callback_url=callback)
    if not submitted.queued:
        response.status_code = 200
    return job_out(session.get_one(Job, submitted.job_ids[0]), request)


@router.post("/batch", response_model=BatchOut, status_code=202)
def identify_many(body: DialectBatchRequest, session: SessionDep, tenant: TenantDep, request: Request) -> BatchOut:
    """Name the variety of many texts as one batch; the answers are at /v1/batches/{id}/jobs."""
    callback = callbacks.callback_for(session, tenant, body.callback_url)
    new_jobs = submit.dialect_jobs(body.items)
    batch = submit.create_batch(session, tenant, JobKind.dialect, new_jobs, options={}, callback_url=callback)
    return batch_out(session, batch, request)
