"""A finished book's audio as the routes answer it: the M4B, or a zip of its chapters."""

import tempfile
from pathlib import Path

from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from shared.books.exports import stream
from shared.books.m4b import write_chapters, write_m4b
from shared.books.store import cover_of
from shared.books.timeline import load_timeline, require_finished
from shared.config import get_settings
from shared.models import Batch


def book_audio(session: Session, tenant_id: str, batch: Batch, output: str, fmt: str | None) -> StreamingResponse:
    """`output=m4b`: one M4B with chapters and cover; `output=chapters`: a zip of one file per
    chapter in `fmt` (default: the batch's format). Both normalised to the book's loudness."""
    require_finished(session, batch)
    settings = get_settings()
    timeline = load_timeline(session, tenant_id, batch, settings)
    with tempfile.TemporaryDirectory(prefix="voxq-book-") as work:
        path = Path(work) / "book"
        if output == "m4b":
            book = batch.options.get("book") or {}
            tags = {
                "title": book.get("title") or batch.options.get("filename") or batch.id,
                "artist": book.get("author"),
            }
            tags |= {"album": tags["title"], "genre": "Audiobook"}
            write_m4b(session, tenant_id, timeline, settings, path, cover_of(session, batch.id), tags)
            name, media_type = f"{batch.id}.m4b", "audio/mp4"
        else:
            write_chapters(session, tenant_id, timeline, settings, fmt or batch.options.get("format", "wav"), path)
            name, media_type = f"{batch.id}-chapters.zip", "application/zip"
        # Opened before the folder goes: the open file outlives its name, and the stream closes it.
        body = path.open("rb")
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(stream(body), media_type=media_type, headers=headers)
