"""Bulk scripts: POST /v1/batches, progress, and the whole script's audio."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select

from api.deps import DOWNLOAD_LIMIT, RATE_LIMIT, BriefTenantDep, FinishedDep, SessionDep, TenantDep, get_owned
from api.downloads import stored_file
from api.presenters import batch_out, job_out
from api.schemas import BatchOut, BatchPage, BookTag, CallbackUrl, JobOut
from api.uploads import read_upload
from api.waiting import LongPoll
from shared.audio import retention
from shared.audio.codec import MEDIA_TYPES, extension
from shared.books import files
from shared.books.exports import chapter, stream, zip_of_lines
from shared.books.m4b import CHAPTER_CODECS
from shared.books.timeline import line_pause_ms
from shared.config import get_settings
from shared.db import session_scope
from shared.dialect.labels import LABELS
from shared.errors import BadInput, NotReady
from shared.jobs import cancel, state
from shared.jobs.accept import BatchForm
from shared.jobs.contracts import AudioFormat, Speed, VoiceName
from shared.jobs.lanes import LANES, Lane
from shared.models import Batch, Job, JobKind, JobStatus
from shared.text.json_input import loads
from shared.webhooks import callbacks

router = APIRouter(prefix="/v1/batches", tags=["batches"])


@router.post("", response_model=BatchOut, status_code=202, dependencies=[RATE_LIMIT])
async def create_batch(
    session: SessionDep,
    tenant: TenantDep,
    request: Request,
    file: Annotated[UploadFile, File(description="The script: plain text (a paragraph per line), CSV or JSONL.")],
    voice: Annotated[VoiceName | None, Form(description="Voice for lines that name none.")] = None,
    format: Annotated[AudioFormat, Form(description="Audio format of the results.")] = "wav",
    script_format: Annotated[
        Literal["text", "csv", "jsonl", "epub"] | None, Form(description="Default: from the file name.")
    ] = None,
    speed: Annotated[Speed, Form()] = 1.0,
    kind: Annotated[
        Literal["synthesis", "dialect"], Form(description="synthesis: speak every line; dialect: identify it.")
    ] = "synthesis",
    follow_dialect: Annotated[
        bool, Form(description="Each line is spoken by the voice mapped to its dialect (粤语 → yue on espeak-ng).")
    ] = False,
    priority: Annotated[
        str,
        Form(
            description="bulk: behind single requests, sharing the workers with other batches; live: its lines "
            "go with single requests, ahead of every bulk line.",
            json_schema_extra={"enum": list(LANES)},
        ),
    ] = "bulk",
    dialect_voices: Annotated[
        str | None, Form(description='JSON object overriding the mapping, e.g. {"四川话": "voice_..."}.')
    ] = None,
    callback_url: Annotated[
        CallbackUrl | None,
        Form(description="POSTed a signed event when the batch ends (docs/operations.md: Webhooks)."),
    ] = None,
    title: Annotated[
        BookTag | None, Form(description="The book's title in its M4B (an EPUB's own title otherwise).")
    ] = None,
    author: Annotated[
        BookTag | None, Form(description="The book's author in its M4B (an EPUB's own creator otherwise).")
    ] = None,
) -> BatchOut:
    """Upload a whole script (a line per job), speak or identify every line as one batch."""
    if priority not in LANES:
        raise BadInput(f"unknown priority {priority!r}: use {' or '.join(LANES)}")
    lane: Lane = "live" if priority == "live" else "bulk"
    # The callback's DNS lookup runs in the thread pool: on the event loop it would stall every
    # long-poll and stream of this process. The script itself is parsed and stored apart
    # (api/accepting.py).
    callback = await run_in_threadpool(callbacks.callback_for, session, tenant, callback_url)
    settings = get_settings()
    data = await read_upload(file, settings.max_script_bytes, "script")
    form = BatchForm(
        tenant_id=tenant,
        data=data,
        filename=file.filename,
        script_format=script_format,
        kind=kind,
        voice=voice,
        format=format,
        speed=speed,
        follow_dialect=follow_dialect,
        dialect_voices=parse_dialect_voices(dialect_voices),
        lane=lane,
        callback_url=callback,
        title=title,
        author=author,
    )
    batch_id = await request.app.state.acceptor.accept(form)

    def show() -> BatchOut:
        with session_scope() as reading:
            return batch_out(reading, reading.get_one(Batch, batch_id), request)

    return await run_in_threadpool(show)


def parse_dialect_voices(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        mapping = loads(raw)
    except ValueError as exc:
        raise BadInput(f"dialect_voices is not valid JSON ({exc})") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise BadInput('dialect_voices must be a JSON object of dialect to voice, e.g. {"粤语": "yue"}')
    unknown = sorted(set(mapping) - set(LABELS))
    if unknown:
        raise BadInput(f"dialect_voices names unknown dialects: {', '.join(unknown)} (known: {' '.join(LABELS)})")
    return mapping


@router.get("", response_model=BatchPage)
def list_batches(
    session: SessionDep,
    tenant: TenantDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100, description="Batches in one page.")] = 20,
    before: Annotated[str | None, Query(description="The `next` of the page before: older batches.")] = None,
) -> BatchPage:
    """The tenant's batches, newest first, a page at a time (ids are made in time order, so a
    page is a scan of the tenant's index from where the last one stopped)."""
    query = select(Batch).where(Batch.tenant_id == tenant)
    if before is not None:
        query = query.where(Batch.id < before)
    batches = list(session.scalars(query.order_by(Batch.id.desc()).limit(limit + 1)))
    page = [batch_out(session, batch, request) for batch in batches[:limit]]
    return BatchPage(batches=page, next=page[-1].id if len(batches) > limit else None)


@router.get("/{batch_id}", response_model=BatchOut)
async def get_batch(
    batch_id: str,
    tenant: BriefTenantDep,
    finished: FinishedDep,
    request: Request,
    wait: LongPoll = 0,
) -> BatchOut:
    """A batch's progress: its jobs counted by status; `wait` long-polls for the next change."""

    def read() -> BatchOut:
        with session_scope() as session:
            return batch_out(session, get_owned(session, Batch, batch_id, tenant), request)

    first = await run_in_threadpool(read)
    if not wait or first.done:
        return first

    async def changed() -> BatchOut | None:
        now = await run_in_threadpool(read)
        return now if now.done or now.counts != first.counts else None

    found = await finished.wait(batch_id, wait, changed)
    return found if found is not None else await run_in_threadpool(read)


@router.get("/{batch_id}/jobs", response_model=list[JobOut])
def batch_jobs(
    batch_id: str,
    session: SessionDep,
    tenant: TenantDep,
    request: Request,
    status: JobStatus | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobOut]:
    """The batch's jobs in line order, optionally only those in one status."""
    get_owned(session, Batch, batch_id, tenant)
    query = select(Job).where(Job.batch_id == batch_id).order_by(Job.line).offset(offset).limit(limit)
    if status is not None:
        query = query.where(Job.status == status)
    return [job_out(job, request) for job in session.scalars(query)]


_BOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The audio; an M4B or chapters zip is served from storage, with range requests."},
    202: {
        "model": JobOut,
        "description": "output=m4b or chapters, not yet built: the book job building it (its URL in Location). "
        "Ask again (or long-poll the job) until this answers 200.",
    },
    206: {"description": "The range asked for (Range: bytes=a-b) of a stored M4B or chapters zip."},
}


@router.get("/{batch_id}/audio", name="batch_audio", responses=_BOOK_RESPONSES, dependencies=[DOWNLOAD_LIMIT])
def batch_audio(
    batch_id: str,
    session: SessionDep,
    tenant: TenantDep,
    request: Request,
    range_header: Annotated[str | None, Header(alias="Range", include_in_schema=False)] = None,
    output: Annotated[
        Literal["chapter", "zip", "m4b", "chapters"],
        Query(
            description="One file, a zip of one file per line, an M4B audiobook with chapter markers and cover, "
            "or a zip of one file per chapter (the last two loudness-normalised; docs/http-api.md: Books)."
        ),
    ] = "chapter",
    format: AudioFormat | None = None,
) -> Response:
    """The finished batch's audio: one chapter file, a zip of one file per line, an M4B, or a zip of chapters.

    An M4B or a chapters zip is built once, by a media worker: the first request answers 202 with
    the book job, later ones the stored file (ranges too). A book whose lines change gets a new file."""
    batch = get_owned(session, Batch, batch_id, tenant)
    if batch.kind != JobKind.synthesis:
        raise BadInput(f"batch {batch_id} is a {batch.kind.value} batch and has no audio")
    counts = state.status_counts(session, batch.id)
    if counts["queued"] or counts["running"]:
        raise NotReady(f"batch {batch_id} is not finished: {counts['queued'] + counts['running']} jobs to go")
    if counts["failed"]:
        raise NotReady(
            f"{counts['failed']} lines of batch {batch_id} failed; see /v1/batches/{batch_id}/jobs?status=failed"
        )
    # A cancelled batch keeps what it finished: its lines as a zip, never as a chapter with holes.
    if counts["cancelled"] and output != "zip":
        raise NotReady(
            f"{counts['cancelled']} lines of batch {batch_id} were cancelled; its finished lines: output=zip"
        )
    if output in ("m4b", "chapters"):
        if output == "m4b" and format is not None:
            raise BadInput("output=m4b is always AAC in MP4: leave out format")
        fmt = "aac" if output == "m4b" else format or batch.options.get("format", "wav")
        if output == "chapters" and fmt not in CHAPTER_CODECS:
            raise BadInput(f"chapter files can be {', '.join(CHAPTER_CODECS)}, not {fmt!r}")
        book_file = files.find_or_build(session, batch, output, fmt, get_settings())
        if book_file.size is not None:
            return stored_file(book_file, files.store(), range_header)
        job = session.get_one(Job, book_file.job_id)
        location = str(request.url_for("get_job", job_id=job.id))
        building = job_out(job, request).model_dump(mode="json")
        return JSONResponse(building, status_code=202, headers={"Location": location, "Retry-After": "2"})
    fmt = format or batch.options.get("format", "wav")
    query = select(Job).where(Job.batch_id == batch_id, Job.status == JobStatus.succeeded).order_by(Job.line)
    line_jobs = list(session.scalars(query))
    retention.check_stored(session, tenant, line_jobs, f"batch {batch_id}", get_settings())  # else 410
    if output == "zip":
        body = zip_of_lines(session, tenant, line_jobs, fmt)
        headers = {"Content-Disposition": f'attachment; filename="{batch_id}.zip"'}
        return StreamingResponse(stream(body), media_type="application/zip", headers=headers)
    body = chapter(session, tenant, line_jobs, fmt, line_pause_ms(get_settings()))
    headers = {"Content-Disposition": f'attachment; filename="{batch_id}.{extension(fmt)}"'}
    return StreamingResponse(stream(body), media_type=MEDIA_TYPES[fmt], headers=headers)


@router.post("/{batch_id}/cancel", response_model=BatchOut)
def cancel_batch(batch_id: str, session: SessionDep, tenant: TenantDep, request: Request) -> BatchOut:
    """Cancel a batch: its lines not yet started never start, the running ones finish, and what
    finished is kept; the batch then ends as `cancelled` (and its webhook says so). A batch that
    has ended is left as it is (200 all the same)."""
    batch = get_owned(session, Batch, batch_id, tenant)
    cancel.cancel_batch(session, batch)
    return batch_out(session, batch, request)
