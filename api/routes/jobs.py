"""GET /v1/jobs/{id} and its audio."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import BriefTenantDep, FinishedDep, SessionDep, TenantDep, get_owned
from api.docs import audio_responses
from api.downloads import attachment
from api.presenters import job_out
from api.schemas import AnyJobOut, JobOut
from api.waiting import LongPoll
from shared.audio import retention
from shared.audio.codec import MEDIA_TYPES, extension
from shared.audio.snippets import get_snippet, snippet_audio
from shared.books.exports import to_bytes
from shared.config import get_settings
from shared.db import session_scope
from shared.errors import AudioExpired, BadInput, NotReady
from shared.jobs.contracts import AudioFormat
from shared.models import FINISHED, Job, JobKind, JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut)
async def get_job(
    job_id: str,
    tenant: BriefTenantDep,
    finished: FinishedDep,
    request: Request,
    wait: LongPoll = 0,
) -> JobOut:
    """A job's state, its input and, once finished, its result or error; `wait` long-polls."""

    def read() -> JobOut:
        with session_scope() as session:
            return job_out(get_owned(session, Job, job_id, tenant), request)

    async def finished_job() -> AnyJobOut | None:
        job = await run_in_threadpool(read)
        return job if job.status in FINISHED else None

    if wait and (done := await finished.wait(job_id, wait, finished_job)) is not None:
        return done
    return await run_in_threadpool(read)


@router.get(
    "/{job_id}/audio", name="job_audio", response_class=Response, responses=audio_responses(MEDIA_TYPES.values())
)
def job_audio(
    job_id: str,
    session: SessionDep,
    tenant: TenantDep,
    format: Annotated[AudioFormat | None, Query(description="Default: the format asked at submission.")] = None,
) -> Response:
    """A finished synthesis job's audio (409 until it has succeeded)."""
    job = get_owned(session, Job, job_id, tenant)
    if job.kind != JobKind.synthesis:
        raise BadInput(f"job {job_id} is a {job.kind.value} job and has no audio")
    if job.status == JobStatus.failed:
        raise NotReady(f"job {job_id} failed: {job.error}")
    if job.status != JobStatus.succeeded or job.snippet_key is None:
        raise NotReady(f"job {job_id} is {job.status.value}; audio is ready when it has succeeded")
    snippet = get_snippet(session, tenant, job.snippet_key)
    if snippet is None:
        raise AudioExpired(retention.expired_message(f"job {job_id}", 1, 1, get_settings()))
    fmt = format or job.input.get("format", "wav")
    return Response(
        to_bytes(snippet_audio(snippet), fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": attachment(f"{job_id}.{extension(fmt)}")},
    )
