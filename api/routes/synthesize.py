"""POST /v1/synthesize: one text, one job; answered at once when the audio is cached."""

from fastapi import APIRouter, Request, Response

from api.deps import SessionDep, TenantDep
from api.routes.jobs import job_out
from shared.models import Job
from shared.schemas import JobOut, SynthesizeRequest
from workers.submit import SYNTHESIZE_TASK, ScriptLine, checked_text, create_synthesis_jobs, enqueue_committed

router = APIRouter(prefix="/v1", tags=["synthesis"])


@router.post("/synthesize", response_model=JobOut, status_code=202)
def synthesize(
    body: SynthesizeRequest, session: SessionDep, tenant: TenantDep, request: Request, response: Response
) -> JobOut:
    text = checked_text(body.text)
    [job_id], queued = create_synthesis_jobs(
        session, tenant, [ScriptLine(1, text)], body.voice, body.speed, body.format
    )
    session.commit()
    if queued:
        enqueue_committed(session, SYNTHESIZE_TASK, queued)
    else:
        response.status_code = 200  # cached: done already
    return job_out(session.get_one(Job, job_id), request)
