"""POST /v1/snippets/precompute: fill the snippet cache ahead of time (phrases × one voice).

Phrases already cached are answered as succeeded jobs and never queued; the rest become
ordinary synthesis jobs. Afterwards, the same phrase in the same voice (through
/v1/synthesize, a batch or /v1/audio/speech) is served from the cache at once.
"""

from fastapi import APIRouter, Response

from api.deps import SessionDep, TenantDep
from shared.config import get_settings
from shared.errors import BadInput, TooLarge
from shared.models import JobStatus
from shared.schemas import PrecomputedPhrase, PrecomputeOut, PrecomputeRequest
from shared.text import clean
from workers.submit import SYNTHESIZE_TASK, ScriptLine, create_synthesis_jobs, enqueue_committed, speech_text

router = APIRouter(prefix="/v1/snippets", tags=["snippets"])


@router.post("/precompute", response_model=PrecomputeOut, status_code=202)
def precompute(body: PrecomputeRequest, session: SessionDep, tenant: TenantDep, response: Response) -> PrecomputeOut:
    limit = get_settings().max_text_chars
    lines: list[ScriptLine] = []
    spoken_texts: list[str] = []
    seen: set[str] = set()
    for number, phrase in enumerate(body.phrases, 1):
        text = clean(phrase)
        if not any(ch.isalnum() for ch in text):
            raise BadInput(f"phrase {number} has nothing to say")
        if len(text) > limit:
            raise TooLarge(f"phrase {number} has {len(text)} characters; the limit is {limit}")
        # Two spellings of one phrase ("¥5" and "5元") are one recording: keep the first.
        if (spoken := speech_text(text)) not in seen:
            seen.add(spoken)
            spoken_texts.append(spoken)
            lines.append(ScriptLine(number, text))
    job_ids, queued = create_synthesis_jobs(session, tenant, lines, body.voice, body.speed)
    session.commit()
    if queued:
        enqueue_committed(session, SYNTHESIZE_TASK, queued)
    else:
        response.status_code = 200  # everything was cached already
    waiting = set(queued)
    phrases = [
        PrecomputedPhrase(
            text=spoken,
            job_id=job_id,
            status=JobStatus.queued if job_id in waiting else JobStatus.succeeded,
            cached=job_id not in waiting,
        )
        for job_id, spoken in zip(job_ids, spoken_texts, strict=True)
    ]
    return PrecomputeOut(voice=body.voice, cached=len(job_ids) - len(queued), queued=len(queued), phrases=phrases)
