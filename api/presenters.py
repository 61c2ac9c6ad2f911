"""What the API shows of stored objects: a job, a batch with its progress, a library voice."""

from fastapi import Request
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from api.schemas import BatchOut, ChapterOut, JobOut, SynthesisJobOut, VoiceOut
from shared.books.store import chapter_titles
from shared.jobs import state
from shared.models import Batch, Job, JobKind, JobStatus, Voice

_JOB_OUT: TypeAdapter[JobOut] = TypeAdapter(JobOut)


def job_out(job: Job, request: Request) -> JobOut:
    """A job with its kind's input and result; a finished synthesis job links its audio."""
    out = _JOB_OUT.validate_python(job, from_attributes=True)
    if isinstance(out, SynthesisJobOut) and job.status == JobStatus.succeeded:
        out.audio_url = str(request.url_for("job_audio", job_id=job.id))
    return out


def batch_out(session: Session, batch: Batch, request: Request) -> BatchOut:
    """A batch with its jobs counted by status; a finished synthesis batch links its audio."""
    counts = state.status_counts(session, batch.id)
    done = counts["queued"] == 0 and counts["running"] == 0
    status = state.batch_status(counts)
    audio_url = None
    if batch.kind == JobKind.synthesis and status == "succeeded":
        audio_url = str(request.url_for("batch_audio", batch_id=batch.id))
    return BatchOut(
        id=batch.id,
        kind=batch.kind,
        lines=batch.lines,
        options=batch.options,
        counts=counts,
        done=done,
        status=status,
        created_at=batch.created_at,
        audio_url=audio_url,
        chapters=[ChapterOut(number=n, title=t) for n, t in chapter_titles(session, batch.id).items()],
        warnings=batch.options.get("warnings", []),
    )


def voice_out(voice: Voice) -> VoiceOut:
    """A library voice without its clip."""
    params = voice.params or {}
    return VoiceOut(
        id=voice.id,
        name=voice.name,
        transcript=voice.reference_text,
        duration_s=voice.duration_s,
        sample_rate=voice.sample_rate,
        dialect=voice.dialect,
        seed=params["seed"],
        temperature=params["temperature"],
        top_p=params["top_p"],
        reference_sha256=voice.reference_sha256,
        created_at=voice.created_at,
    )
