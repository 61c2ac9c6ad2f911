"""POST /v1/snippets/precompute: fill the snippet cache ahead of time (phrases × one voice);
POST /v1/snippets/delete: keep them no longer.

Phrases already cached are answered as succeeded jobs and never queued; the rest become
ordinary synthesis jobs. Afterwards, the same phrase in the same voice (through
/v1/synthesize, a batch or /v1/audio/speech) is served from the cache at once.
"""

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from api.deps import RATE_LIMIT, SessionDep, TenantDep
from api.schemas import (
    DeletedPhrase,
    DeletedPhrasesOut,
    DeletePhrasesRequest,
    PrecomputedPhrase,
    PrecomputeOut,
    PrecomputeRequest,
)
from shared.audio import retention
from shared.config import get_settings
from shared.errors import BadInput, NotFound
from shared.jobs import submit, synthesis
from shared.models import JobStatus
from shared.text.pronunciation import matcher

router = APIRouter(prefix="/v1/snippets", tags=["snippets"])


@router.post("/precompute", response_model=PrecomputeOut, status_code=202, dependencies=[RATE_LIMIT])
def precompute(body: PrecomputeRequest, session: SessionDep, tenant: TenantDep, response: Response) -> PrecomputeOut:
    """Have phrases in one voice ready in the cache (202); all cached already: 200. They are
    kept until deleted (POST /v1/snippets/delete), whatever the retention of other audio."""
    lines, spoken_texts = _phrase_lines(session, tenant, body)
    new_jobs = synthesis.synthesis_jobs(session, tenant, lines, body.voice, body.speed)
    submitted = submit.submit(session, tenant, new_jobs)
    retention.pin(session, tenant, submitted.job_ids)
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


def _phrase_lines(session: Session, tenant: str, body: PrecomputeRequest) -> tuple[list[submit.ScriptLine], list[str]]:
    """The phrases as lines to speak, and as spoken (normalised), one per recording."""
    lines: list[submit.ScriptLine] = []
    spoken_texts: list[str] = []
    seen: set[str] = set()
    lexicon, engine = matcher(session, tenant), get_settings().tts_engine
    for number, phrase in enumerate(body.phrases, 1):
        text = synthesis.cleaned(phrase, f"phrase {number}")
        if not any(ch.isalnum() for ch in text):
            raise BadInput(f"phrase {number} has nothing to say")
        # Two spellings of one phrase ("¥5" and "5元") are one recording: keep the first.
        if (spoken := synthesis.speech_text(text, lexicon, engine)) not in seen:
            seen.add(spoken)
            spoken_texts.append(spoken)
            lines.append(submit.ScriptLine(number, text))
    return lines, spoken_texts


@router.post("/delete", response_model=DeletedPhrasesOut)
def delete_phrases(body: DeletePhrasesRequest, session: SessionDep, tenant: TenantDep) -> DeletedPhrasesOut:
    """Keep precomputed phrases (named as they were precomputed: phrases, voice, speed) no longer.
    Each one's audio is deleted now, unless a batch or job that used it still keeps it (then it
    goes with that one's retention). 404 if none of them was precomputed by this tenant."""
    lines, spoken_texts = _phrase_lines(session, tenant, body)
    keys = [job.snippet_key or "" for job in synthesis.synthesis_jobs(session, tenant, lines, body.voice, body.speed)]
    outcome = retention.unpin(session, tenant, keys, get_settings())
    if not outcome:
        raise NotFound(f"none of these {len(keys)} phrases is precomputed in voice {body.voice or 'default'!r}")
    phrases = [
        DeletedPhrase(
            text=spoken,
            found=key in outcome,
            freed=key in outcome and outcome[key] is None,
            expires_at=outcome.get(key),
        )
        for key, spoken in zip(keys, spoken_texts, strict=True)
    ]
    return DeletedPhrasesOut(
        voice=body.voice, deleted=len(outcome), freed=sum(p.freed for p in phrases), phrases=phrases
    )
