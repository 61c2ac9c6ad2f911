"""Captions of a finished batch's audio: GET /v1/batches/{id}/captions."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import SessionDep, TenantDep, get_owned
from shared.books.captions import MEDIA_TYPES, CaptionFormat, cues, render
from shared.books.timeline import load_timeline, require_finished
from shared.config import get_settings
from shared.errors import NotFound
from shared.models import Batch

router = APIRouter(prefix="/v1/batches", tags=["batches"])


@router.get("/{batch_id}/captions", response_class=Response)
def batch_captions(
    batch_id: str,
    session: SessionDep,
    tenant: TenantDep,
    format: Annotated[CaptionFormat, Query(description="srt or vtt (WebVTT).")] = "vtt",
    chapter: Annotated[
        int | None,
        Query(
            ge=1,
            description="One chapter, timed from the start of its own file (output=chapters); "
            "else the whole book, timed as output=m4b and output=chapter.",
        ),
    ] = None,
) -> Response:
    """A cue per sentence, timed by how the lines' audio was joined (docs/http-api.md: Books)."""
    batch = get_owned(session, Batch, batch_id, tenant)
    require_finished(session, batch)
    settings = get_settings()
    timeline = load_timeline(session, tenant, batch, settings, texts=True)
    if chapter is not None and chapter not in timeline.titles:
        raise NotFound(f"batch {batch_id} has no chapter {chapter} (it has 1 to {max(timeline.titles)})")
    body = render(cues(timeline, chapter, settings.max_chunk_chars, settings.pause_between_chunks_ms), format)
    name = f"{batch_id}{'' if chapter is None else f'-{chapter}'}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=f"{MEDIA_TYPES[format]}; charset=utf-8", headers=headers)
