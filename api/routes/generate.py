"""POST /v1/generate: a chat reply as a job, optionally spoken by the TTS pool afterwards."""

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api.deps import RATE_LIMIT, FinishedDep, SessionDep, TenantDep
from api.presenters import batch_out, job_out
from api.reply_events import ReplyEvents
from api.schemas import BatchOut, GenerateBatchRequest, GenerateJobRequest, JobOut
from shared.config import get_settings
from shared.errors import BadInput, EngineUnavailable
from shared.jobs import submit
from shared.jobs.contracts import GenerateRequest
from shared.models import Job, JobKind
from shared.voices.resolve import resolve_voice
from shared.webhooks import callbacks

router = APIRouter(prefix="/v1/generate", tags=["generation"], dependencies=[RATE_LIMIT])


def require_llm() -> None:
    """Refuse LLM work up front when the deployment has no LLM server."""
    if not get_settings().llm_url:
        raise EngineUnavailable("this deployment has no LLM server (VOXQ_LLM_URL is not set)")


def check_speak_voices(session: Session, tenant_id: str, requests: Sequence[GenerateRequest]) -> None:
    """Fail a request whose reply is to be spoken in an unknown voice now, not after generating."""
    engine = get_settings().tts_engine
    for voice, speed in {(r.speak.voice, r.speak.speed) for r in requests if r.speak is not None}:
        resolve_voice(session, tenant_id, voice, engine, speed)


_EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "With `stream`: Server-Sent Events (text, audio, speech_error, restart, error, done); "
        "see api/reply_events.py.",
        "content": {"text/event-stream": {}},
    }
}


@router.post("", response_model=JobOut, status_code=202, responses=_EVENT_STREAM)
def generate(
    body: GenerateJobRequest, session: SessionDep, tenant: TenantDep, request: Request, finished: FinishedDep
) -> JobOut | StreamingResponse:
    """Queue one reply; with `speak`, a synthesis job (result.speech_job_id) speaks it when done.
    With `stream`, answer with the reply's events as it is written, and with `speak` too,
    each sentence's audio while the model goes on."""
    require_llm()
    check_speak_voices(session, tenant, [body])
    callback = callbacks.callback_for(session, tenant, body.callback_url)
    spec = GenerateRequest.model_validate(body.model_dump(exclude={"callback_url"}))  # the job's input: no URL
    submitted = submit.submit(session, tenant, submit.generation_jobs([spec]), callback_url=callback)
    job = session.get_one(Job, submitted.job_ids[0])
    if not body.stream:
        return job_out(job, request)
    events = ReplyEvents(job.id, tenant, spec, finished, request)
    # 200, not 202: the answer is the reply itself. No buffering by proxies (nginx's header).
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-VoxQueue-Job-Id": job.id}
    return StreamingResponse(events.stream(), media_type="text/event-stream", headers=headers)


@router.post("/batch", response_model=BatchOut, status_code=202)
def generate_batch(body: GenerateBatchRequest, session: SessionDep, tenant: TenantDep, request: Request) -> BatchOut:
    """Queue many replies as one batch (kind `generation`); follow it at /v1/batches/{id}."""
    require_llm()
    if streamed := [n for n, item in enumerate(body.items, 1) if item.stream]:
        raise BadInput(f"items {streamed[:5]}: stream is for a single reply (POST /v1/generate), not a batch")
    check_speak_voices(session, tenant, body.items)
    callback = callbacks.callback_for(session, tenant, body.callback_url)
    new_jobs = submit.generation_jobs(body.items)
    options = {"pool": "llm"}
    batch = submit.create_batch(session, tenant, JobKind.generation, new_jobs, options, callback_url=callback)
    return batch_out(session, batch, request)
