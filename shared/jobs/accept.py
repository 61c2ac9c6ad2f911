"""A batch's acceptance: its script read, its lines made jobs and stored, as one call that a
process apart from the API's serving one can run.

Accepting 10,000 lines is a few tenths of a second of Python (parsing, cleaning and keying
each line, streaming the rows to the database); an EPUB or a dialect batch, more. On the API's
own threads that work holds the interpreter's lock, and every live request of the process
waits behind it. Everything it needs travels in a `BatchForm` (plain, picklable data), and
only the new batch's id comes back, so the API can hand it to a process pool
(api/accepting.py) and go on serving.
"""

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from shared.books.languages import voice_by_language
from shared.books.scripts import detect_format, parse_script
from shared.config import get_settings
from shared.db import session_scope
from shared.jobs import submit, synthesis
from shared.jobs.contracts import DialectText
from shared.jobs.lanes import Lane
from shared.models import JobKind

_NICE = 10  # of 19: behind every process at the default 0, never starved (the CFS weight is about 1/10)


@dataclass(frozen=True)
class BatchForm:
    """What POST /v1/batches was given, checked as far as needs no database."""

    tenant_id: str
    data: bytes
    filename: str | None
    script_format: str | None
    kind: Literal["synthesis", "dialect"]
    voice: str | None
    format: str
    speed: float
    follow_dialect: bool
    dialect_voices: dict[str, str]
    lane: Lane
    callback_url: str | None  # checked already (shared/webhooks/callbacks.py)
    title: str | None = None  # the book's, over what its file says
    author: str | None = None


def accept(form: BatchForm) -> str:
    """Store the form's batch in one transaction and let the dispatcher know; its id. Raises
    BadInput (an unreadable script, an unknown voice...), TooLarge or QuotaExceeded, having
    stored nothing."""
    with _no_collection_pauses():
        return _accept(form)


@contextmanager
def _no_collection_pauses() -> Iterator[None]:
    """Python's cycle collector kept off while a batch is accepted: its 10,000 lines are tens
    of thousands of new objects, each of which counts toward the next collection, and every few
    of those passes walk every object the process holds: a quarter of a 10,000-line batch's
    acceptance, for objects that form no cycles and go when the request ends. Reference
    counting frees them as ever; the collector runs again once the batch is stored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _accept(form: BatchForm) -> str:
    settings = get_settings()
    fmt = detect_format(form.filename, form.script_format)
    script = parse_script(form.data, fmt, settings.max_script_lines, settings.max_text_chars)
    options: dict[str, Any] = {"filename": form.filename, "priority": form.lane}
    with session_scope() as session:
        if form.kind == "dialect":
            items = [DialectText(text=line.text, id=line.id) for line in script.lines]
            batch = submit.create_batch(
                session,
                form.tenant_id,
                JobKind.dialect,
                submit.dialect_jobs(items),
                options,
                form.lane,
                callback_url=form.callback_url,
            )
            return batch.id
        lines, book = script.lines, script.book
        if book is not None:  # an EPUB's languages choose the voices of lines not in the book's own
            voiced = voice_by_language(lines, book, form.voice, settings.tts_engine)
            lines, book = voiced.lines, voiced.book
            if voiced.warnings:
                options["warnings"] = voiced.warnings
        if form.follow_dialect:
            lines = submit.follow_dialect(session, form.tenant_id, lines, form.dialect_voices)
        new_jobs = synthesis.synthesis_jobs(session, form.tenant_id, lines, form.voice, form.speed, form.format)
        options |= {"voice": form.voice, "format": form.format, "speed": form.speed}
        options["follow_dialect"] = form.follow_dialect
        title = form.title or (book.title if book else None)
        author = form.author or (book.author if book else None)
        if title or author:
            options["book"] = {"title": title, "author": author}
        batch = submit.create_batch(
            session,
            form.tenant_id,
            JobKind.synthesis,
            new_jobs,
            options,
            form.lane,
            book=book,
            callback_url=form.callback_url,
        )
        return batch.id


def warm() -> None:
    """Load what `accept` uses and read the settings, so a fresh process's first batch does not
    pay for it (a process pool's initializer)."""
    get_settings()
    gc.freeze()  # what is loaded now lives as long as the process: no collection walks it again


def yield_to_live_work() -> None:
    """Lower this process's CPU priority (a process pool's initializer): accepting a batch is
    work for later, and on a busy machine the live requests, the workers speaking them and the
    database answering them go first."""
    os.nice(_NICE)
    warm()
