"""POST /v1/synthesize: one text, one job; answered at once when the audio is cached."""

from fastapi import APIRouter, Request, Response

from api.deps import RATE_LIMIT, SessionDep, TenantDep
from api.presenters import job_out
from api.schemas import JobOut, SynthesizeRequest
from shared.jobs import submit, synthesis
from shared.models import Job
from shared.webhooks import callbacks

router = APIRouter(prefix="/v1", tags=["synthesis"])


@router.post("/synthesize", response_model=JobOut, status_code=202, dependencies=[RATE_LIMIT])
def synthesize(
    body: SynthesizeRequest, session: SessionDep, tenant: TenantDep, request: Request, response: Response
) -> JobOut:
    """Speak one text as a job (202); a text already in the cache is answered done (200)."""
    line = submit.ScriptLine(1, synthesis.cleaned(body.text))
    callback = callbacks.callback_for(session, tenant, body.callback_url)
    new_jobs = synthesis.synthesis_jobs(session, tenant, [line], body.voice, body.speed, body.format)
    submitted = submit.submit(session, tenant, new_jobs, callback_url=callback)
    if not submitted.queued:
        response.status_code = 200  # cached: done already
    return job_out(session.get_one(Job, submitted.job_ids[0]), request)
