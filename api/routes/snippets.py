"""POST /v1/snippets/precompute: fill the snippet cache ahead of time (phrases × one voice).

Phrases already cached are answered as succeeded jobs and never queued; the rest become
ordinary synthesis jobs. Afterwards, the same phrase in the same voice (through
/v1/synthesize, a batch or /v1/audio/speech) is served from the cache at once.
"""

from fastapi import APIRouter, Response

from api.deps import RATE_LIMIT, SessionDep, TenantDep
from shared import submit
from shared.errors import BadInput
from shared.models import JobStatus
from shared.schemas import PrecomputedPhrase, PrecomputeOut, PrecomputeRequest

router = APIRouter(prefix="/v1/snippets", tags=["snippets"])


@router.post("/precompute", response_model=PrecomputeOut, status_code=202, dependencies=[RATE_LIMIT])
def precompute(body: PrecomputeRequest, session: SessionDep, tenant: TenantDep, response: Response) -> PrecomputeOut:
    """Have phrases in one voice ready in the cache (202); all cached already: 200."""
    lines: list[submit.ScriptLine] = []
    spoken_texts: list[str] = []
    seen: set[str] = set()
    for number, phrase in enumerate(body.phrases, 1):
        text = submit.cleaned(phrase, f"phrase {number}")
        if not any(ch.isalnum() for ch in text):
            raise BadInput(f"phrase {number} has nothing to say")
        # Two spellings of one phrase ("¥5" and "5元") are one recording: keep the first.
        if (spoken := submit.speech_text(text)) not in seen:
            seen.add(spoken)
            spoken_texts.append(spoken)
            lines.append(submit.ScriptLine(number, text))
    new_jobs = submit.synthesis_jobs(session, tenant, lines, body.voice, body.speed)
    submitted = submit.submit(session, tenant, new_jobs)
    if not submitted.queued:
        response.status_code = 200  # everything was cached already
    waiting = set(submitted.queued)
    phrases = [
        PrecomputedPhrase(
            text=spoken,
            job_id=job_id,
            status=JobStatus.queued if job_id in waiting else JobStatus.succeeded,
            cached=job_id not in waiting,
        )
        for job_id, spoken in zip(submitted.job_ids, spoken_texts, strict=True)
    ]
    return PrecomputeOut(voice=body.voice, cached=len(phrases) - len(waiting), queued=len(waiting), phrases=phrases)
