"""POST /v1/dialect/llm: name the dialect of transcripts with the LLM pool, as a batch."""

from fastapi import APIRouter, Request

from api.deps import SessionDep, TenantDep
from api.llm_jobs import DIALECT_TASK, create_llm_batch, require_llm
from api.routes.batches import batch_out
from api.submit import enqueue_committed
from shared.models import JobKind
from shared.schemas import BatchOut, DialectBatchRequest

router = APIRouter(prefix="/v1/dialect", tags=["dialect"])


@router.post("/llm", response_model=BatchOut, status_code=202)
def dialect_llm(body: DialectBatchRequest, session: SessionDep, tenant: TenantDep, request: Request) -> BatchOut:
    """One job per item; each result is ``{"label": one of the eight labels, ...}``.
    Follow the batch at /v1/batches/{id} and read results at /v1/batches/{id}/jobs."""
    require_llm()
    batch, job_ids = create_llm_batch(session, tenant, JobKind.dialect, body.items)
    session.commit()
    enqueue_committed(session, DIALECT_TASK, job_ids)
    return batch_out(session, batch, request)
