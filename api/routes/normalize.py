"""POST /v1/normalize: what a text will be said as, without speaking it.

The text as the engine will be given it (cleaned, the tenant's lexicon applied, numbers written
as words; shared/jobs/synthesis.py) and the chunks the worker will speak it in, one engine call
each (shared/text/sentences.py at VOXQ_MAX_CHUNK_CHARS). A call-centre engineer checks a prompt's
phone numbers and amounts here before a caller hears them. Nothing is stored or queued.
"""

from fastapi import APIRouter

from api.deps import SessionDep, TenantDep
from api.schemas import NormalizedOut, NormalizeRequest
from shared.config import get_settings
from shared.jobs import synthesis
from shared.text.pronunciation import matcher
from shared.text.sentences import split_sentences
from shared.voices.resolve import resolve_voice

router = APIRouter(prefix="/v1", tags=["synthesis"])


@router.post("/normalize", response_model=NormalizedOut)
def normalize(body: NormalizeRequest, session: SessionDep, tenant: TenantDep) -> NormalizedOut:
    """The text as the engine will be given it, and the chunks it will be spoken in; 400 for an
    unknown voice, as a synthesis request would be."""
    settings = get_settings()
    engine = settings.tts_engine
    resolve_voice(session, tenant, body.voice, engine)  # an unknown voice is refused here too
    spoken = synthesis.spoken_form(synthesis.cleaned(body.text), matcher(session, tenant), engine)
    chunks = [c for c in split_sentences(spoken, settings.max_chunk_chars) if any(ch.isalnum() for ch in c)]
    return NormalizedOut(spoken_text=spoken, chunks=chunks)
