"""A synthesis job's audio, read once a worker has spoken it: what the speech route and a
streamed spoken reply wait for."""

from fastapi.concurrency import run_in_threadpool

from shared.audio.snippets import get_snippet, snippet_audio
from shared.db import session_scope
from shared.errors import NotReady, PermanentEngineError
from shared.models import Job, JobStatus


async def audio_when_spoken(tenant_id: str, job_id: str) -> bytes | None:
    """The job's stored audio (FLAC) once it is spoken, None while it is not; raises
    PermanentEngineError if the job failed. For `Finished.wait`."""
    return await run_in_threadpool(_audio_if_done, tenant_id, job_id)


def _audio_if_done(tenant_id: str, job_id: str) -> bytes | None:
    with session_scope() as session:
        job = session.get_one(Job, job_id)
        if job.status == JobStatus.failed:
            raise PermanentEngineError(f"synthesis job {job_id} failed: {job.error}")
        if job.status != JobStatus.succeeded or not job.snippet_key:
            return None
        snippet = get_snippet(session, tenant_id, job.snippet_key)
        if snippet is None:
            raise NotReady(f"the audio of job {job_id} is no longer stored")
        return snippet_audio(snippet)
