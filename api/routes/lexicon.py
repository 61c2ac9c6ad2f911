"""The tenant's pronunciation lexicon: PUT (replace all), GET, DELETE /v1/lexicon.

A change applies to lines submitted after it; lines it changes get new snippet keys, so no
audio of an older reading is served for them (shared/text/pronunciation.py).
"""

from fastapi import APIRouter, Response

from api.deps import SessionDep, TenantDep
from api.schemas import LexiconIn, LexiconOut
from shared.models import Lexicon
from shared.text import pronunciation

router = APIRouter(prefix="/v1/lexicon", tags=["lexicon"])


def _out(row: Lexicon | None) -> LexiconOut:
    if row is None:
        return LexiconOut(entries={}, version=None)
    return LexiconOut(entries=row.entries, version=row.sha256, updated_at=row.updated_at)


@router.put("", response_model=LexiconOut)
def put_lexicon(body: LexiconIn, session: SessionDep, tenant: TenantDep) -> LexiconOut:
    """Replace the whole lexicon; one bad entry refuses the request and stores nothing."""
    return _out(pronunciation.replace_lexicon(session, tenant, body.entries))


@router.get("", response_model=LexiconOut)
def get_lexicon(session: SessionDep, tenant: TenantDep) -> LexiconOut:
    """The lexicon as stored (no entries and no version when the tenant has none)."""
    return _out(pronunciation.get_lexicon(session, tenant))


@router.delete("", status_code=204, response_class=Response)
def delete_lexicon(session: SessionDep, tenant: TenantDep) -> Response:
    """Remove every entry (204, also when there was no lexicon)."""
    pronunciation.delete_lexicon(session, tenant)
    return Response(status_code=204)
