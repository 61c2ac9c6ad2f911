"""`voxq`: the command line. Talks to the HTTP API, or starts VoxQueue's processes.

Exit codes (cli/exit_codes.py): 0 ok, 1 the work failed, 2 bad usage or input.
"""

import logging
import os
import re
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, NoReturn
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

from cli.client import ApiError, Client
from cli.exit_codes import ExitCode
from cli.lexicon import lexicon_app
from cli.progress import download_audio, follow_batch, follow_job
from shared.audio.codec import FORMATS as AUDIO_FORMATS
from shared.audio.codec import extension
from shared.config import get_settings
from shared.jobs.lanes import POOLS

EPILOG = """\
\b
Examples (copy and paste):
  voxq migrate                                   # create or upgrade the database, print the local key
  voxq api --port 8000                           # the HTTP API
  voxq worker tts                                # a TTS worker (espeak-ng by default)
  voxq submit examples/chapter.txt --voice cmn --out chapter.wav
  voxq submit book.epub --voice cmn --out book.m4b --captions book.srt   # an audiobook, chapters and cover
  voxq submit book.txt --title "边城" --author "沈从文" --out book.m4b      # a text book's M4B tags
  voxq say "客服电话400-800-1234" --dry-run       # how a prompt will be read, without speaking it
  voxq say "您好，欢迎致电。" --out hello.wav       # one line into a file
  voxq precompute prompts.txt --voice cmn --format wav_ulaw_8k --out-dir prompts/   # IVR prompts, a file each
  voxq status BATCH_ID                           # the id `voxq submit` printed
  voxq cancel BATCH_ID                           # lines not started never start; finished audio is kept
  voxq dialect "侬今朝夜饭吃啥？"                 # which variety, with evidence
  voxq dialect eval labelled.tsv                 # accuracy, macro-F1, confusion matrix
  voxq keys create --tenant acme                 # a new API key for tenant acme
  voxq keys limits --tenant acme --daily-synth-chars 100000 --daily-llm-jobs 500
  voxq keys webhook-secret --tenant acme         # the secret that signs acme's webhooks (shown once)
  voxq lexicon set lexicon.tsv                   # how words are said: 重庆<TAB>chong2 qing4 per line
  voxq requeue --older-than 600 --every 300      # re-send jobs whose queue messages were lost
  voxq gc --dry-run                              # what expired audio would be freed (rows, bytes)
  voxq gc --vacuum                               # free it now, then give SQLite's free pages back
  voxq flower --port 5555                        # monitoring (needs VOXQ_FLOWER_PASSWORD)
  voxq demo                                      # everything above, on this machine
"""

app = typer.Typer(
    help="VoxQueue: jobs for Chinese speech work.",
    epilog=EPILOG,
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
)
keys_app = typer.Typer(help="API keys, and the daily quotas of their tenants.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(lexicon_app, name="lexicon")
console = Console()
err = Console(stderr=True)
# A quota is stored in an INTEGER column (32 bits on Postgres).
_MAX_QUOTA = 2**31 - 1


def _version(shown: bool) -> None:
    if shown:
        console.print(f"voxq {version('voxqueue')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """VoxQueue: jobs for Chinese speech work."""


def _fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _client() -> Client:
    return Client(get_settings())


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema; on a new database, also create the local API key."""
    from sqlalchemy.engine import make_url

    from shared.migrate import upgrade
    from shared.tenants.local import ensure_local_key

    settings = get_settings()
    upgrade()
    # Run as a deploy job, this goes to logs that many can read: no password, no key.
    console.print(f"database ready: {make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)}")
    key, created = ensure_local_key()
    if created:
        shown = f":\n{key}" if sys.stdout.isatty() else ""
        console.print(f"created the local API key (tenant 'local'), saved in {settings.local_key_file}{shown}")


@app.command()
def api(
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
) -> None:
    """Run the HTTP API: where --host/--port say, else VOXQ_API_HOST/VOXQ_API_PORT, else where
    VOXQ_API_URL (the CLI's address of the API) points."""
    import uvicorn

    settings = get_settings()
    _logging()
    url = urlsplit(settings.api_url)
    host = host or (settings.api_host if "api_host" in settings.model_fields_set else url.hostname) or settings.api_host
    port = port or (settings.api_port if "api_port" in settings.model_fields_set else url.port) or settings.api_port
    uvicorn.run("api.main:app", host=host, port=port, log_level="info")


# The Celery pools, and `webhooks`: the webhook sender (shared/webhooks/sender.py), no Celery worker.
WORKER_POOLS = (*POOLS, "webhooks")


@app.command()
def worker(
    pool: Annotated[str, typer.Argument(help="tts, llm, media or webhooks")],
    concurrency: Annotated[
        int | None, typer.Option(help="Slots of this worker (webhooks: sent at once, VOXQ_WEBHOOK_CONCURRENCY).")
    ] = None,
) -> None:
    """Run a Celery worker of the tts, llm or media pool, or `webhooks`: a webhook sender, which sends
    the due webhooks apart from the API and the reconciler (`python -m workers POOL`)."""
    if pool not in WORKER_POOLS:
        _fail(f"unknown pool {pool!r}: use {', '.join(WORKER_POOLS)}")
    if concurrency is not None and concurrency < 1:
        _fail("--concurrency must be 1 or more")
    if pool == "llm" and not get_settings().llm_url:
        _fail(
            "set VOXQ_LLM_URL to the vLLM server's OpenAI API (e.g. http://127.0.0.1:8000/v1): the llm pool has no model without it"
        )
    extra = [] if concurrency is None else ["--concurrency", str(concurrency)]
    # exec: the worker is this process, so a supervisor's signals reach Celery itself.
    os.execv(sys.executable, [sys.executable, "-m", "workers", pool, *extra])


@app.command()
def flower(port: Annotated[int, typer.Option(help="Port of the Flower web UI.")] = 5555) -> None:
    """Run Flower on the same broker, behind basic auth (VOXQ_FLOWER_USER, VOXQ_FLOWER_PASSWORD)."""
    settings = get_settings()
    password = settings.flower_password.get_secret_value() if settings.flower_password is not None else ""
    if not password:
        _fail("set VOXQ_FLOWER_PASSWORD: Flower is never started without basic auth")
    # Flower reads --basic-auth from FLOWER_BASIC_AUTH: the password stays out of the process list.
    env = os.environ | {"FLOWER_BASIC_AUTH": f"{settings.flower_user}:{password}"}
    os.execve(sys.executable, [sys.executable, "-m", "workers.flower", f"--port={port}"], env)


@app.command()
def submit(
    script: Annotated[
        Path, typer.Argument(help="Plain text (a paragraph per line; `# ` starts a chapter), .csv, .jsonl or .epub.")
    ],
    voice: Annotated[str | None, typer.Option(help="Voice for lines that name none.")] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write the audio when done.")] = None,
    zip_lines: Annotated[bool, typer.Option("--zip", help="Write a zip of one file per line.")] = False,
    chapters: Annotated[bool, typer.Option("--chapters", help="Write a zip of one file per chapter.")] = False,
    captions: Annotated[
        Path | None, typer.Option(help="Also write the captions of --out, a cue per sentence (.srt or .vtt).")
    ] = None,
    audio_format: Annotated[
        str | None, typer.Option("--format", help="wav, flac, ogg, mp3 or a telephone format (wav_ulaw_8k, ...).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the batch, with a progress bar.")] = True,
    title: Annotated[str | None, typer.Option(help="The book's title in its M4B (an EPUB's own otherwise).")] = None,
    author: Annotated[str | None, typer.Option(help="The book's author in its M4B (an EPUB's own otherwise).")] = None,
) -> None:
    """Submit a whole script as one batch, show progress, and write the audio."""
    if not script.is_file():
        _fail(f"no such file: {script}")
    # An .m4b --out is the audiobook: one AAC file with chapter markers and the cover.
    m4b = out is not None and out.suffix.lower() == ".m4b" and not (zip_lines or chapters)
    fmt = audio_format or (out.suffix.lstrip(".").lower() if out and not (zip_lines or chapters or m4b) else "wav")
    if fmt not in AUDIO_FORMATS:
        _fail(f"unknown audio format {fmt!r}: use {', '.join(AUDIO_FORMATS)}")
    if captions is not None and captions.suffix.lower() not in (".srt", ".vtt"):
        _fail(f"--captions must end in .srt or .vtt, not {captions.name!r}")
    client = _client()
    try:
        with script.open("rb") as f:
            data = {"format": fmt} | ({"voice": voice} if voice else {})
            data |= {name: value for name, value in (("title", title), ("author", author)) if value}
            batch = client.json("POST", "/v1/batches", files={"file": (script.name, f)}, data=data)
        console.print(f"batch {batch['id']}: {batch['lines']} lines")
        if not wait:
            return
        batch = follow_batch(client, batch, console)
        if batch["counts"]["failed"]:
            _fail(f"{batch['counts']['failed']} lines failed; see `voxq status {batch['id']}`", ExitCode.FAILED)
        if batch["counts"].get("cancelled"):
            _fail(
                f"{batch['counts']['cancelled']} lines were cancelled; see `voxq status {batch['id']}`", ExitCode.FAILED
            )
        if out:
            output = "m4b" if m4b else "chapters" if chapters else "zip" if zip_lines else "chapter"
            params = {"output": output} | ({} if m4b else {"format": fmt})
            written = download_audio(client, batch["id"], params, out, console)
            console.print(f"wrote {out} ({written / 1024:.0f} KiB)")
        if captions:
            params = {"format": captions.suffix.lower().lstrip(".")}
            response = client.request("GET", f"/v1/batches/{batch['id']}/captions", params=params, timeout=600)
            captions.write_bytes(response.content)
            console.print(f"wrote {captions}")
    except ApiError as exc:
        _fail(str(exc), exc.exit_code)


@app.command()
def say(
    text: Annotated[str, typer.Argument(help="What to say (one line; long ones are spoken in chunks).")],
    voice: Annotated[str | None, typer.Option(help="Built-in voice (cmn, yue, en) or library voice.")] = None,
    out: Annotated[Path, typer.Option(help="Where to write the audio; its suffix is the format.")] = Path("say.wav"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what the engine would be given, and its chunks; speak nothing.")
    ] = False,
) -> None:
    """Speak one text into a file, or (--dry-run) show how it will be read: numbers as words,
    the tenant's lexicon applied, cut into the chunks the worker speaks."""
    client = _client()
    try:
        if dry_run:
            shown = client.json("POST", "/v1/normalize", json={"text": text} | ({"voice": voice} if voice else {}))
            console.print(shown["spoken_text"], markup=False, highlight=False)
            for number, chunk in enumerate(shown["chunks"], 1):
                console.print(f"  {number}. {chunk}", markup=False, highlight=False)
            return
        fmt = out.suffix.lstrip(".").lower() or "wav"
        if fmt not in ("wav", "flac", "ogg", "mp3"):
            _fail(f"--out must end in .wav, .flac, .ogg or .mp3, not {out.name!r}")
        job = client.json(
            "POST", "/v1/synthesize", json={"text": text, "format": fmt} | ({"voice": voice} if voice else {})
        )
        while job["status"] not in ("succeeded", "failed"):
            job = client.json("GET", f"/v1/jobs/{job['id']}", params={"wait": 30}, timeout=60)
        if job["status"] == "failed":
            _fail(f"job {job['id']} failed: {job.get('error')}", ExitCode.FAILED)
        out.write_bytes(client.request("GET", f"/v1/jobs/{job['id']}/audio", params={"format": fmt}).content)
        console.print(f"wrote {out} ({job['result']['duration_s']:.2f} s): {job['result'].get('spoken_text') or text}")
    except ApiError as exc:
        _fail(str(exc), exc.exit_code)


@app.command()
def precompute(
    prompts: Annotated[
        Path, typer.Argument(help="One prompt a line; `name<TAB>text` names its file (else a number and the text).")
    ],
    voice: Annotated[str | None, typer.Option(help="Voice of every prompt.")] = None,
    audio_format: Annotated[
        str, typer.Option("--format", help="wav, flac, ogg, mp3, wav_ulaw_8k, wav_alaw_8k, ulaw_8k or alaw_8k.")
    ] = "wav",
    out_dir: Annotated[Path, typer.Option(help="Where each prompt's file is written.")] = Path("prompts"),
) -> None:
    """An IVR's prompts in one command: have them spoken (kept in the cache until deleted, see
    POST /v1/snippets/delete), wait, and write one file per prompt, named."""
    if not prompts.is_file():
        _fail(f"no such file: {prompts}")
    if audio_format not in AUDIO_FORMATS:
        _fail(f"unknown audio format {audio_format!r}: use {', '.join(AUDIO_FORMATS)}")
    named = _prompt_lines(prompts)
    client = _client()
    try:
        body = {"phrases": [text for _, text in named]} | ({"voice": voice} if voice else {})
        done = client.json("POST", "/v1/snippets/precompute", json=body, timeout=120)
        console.print(f"{len(named)} prompts: {done['cached']} ready in the cache, {done['queued']} to speak")
        out_dir.mkdir(parents=True, exist_ok=True)
        for (name, _text), phrase in zip(named, done["phrases"], strict=True):
            job = follow_job(client, {"id": phrase["job_id"], "status": phrase["status"]}, console, f"speaking {name}")
            if job["status"] != "succeeded":
                _fail(f"prompt {name!r} failed: {job.get('error')}", ExitCode.FAILED)
            audio = client.request("GET", f"/v1/jobs/{job['id']}/audio", params={"format": audio_format})
            path = out_dir / f"{name}.{extension(audio_format)}"
            path.write_bytes(audio.content)
            console.print(f"wrote {path}", markup=False, highlight=False)
    except ApiError as exc:
        _fail(str(exc), exc.exit_code)


def _prompt_lines(path: Path) -> list[tuple[str, str]]:
    """(file name, text) of each non-empty line; a name is letters, digits, - and _ (else the line's number)."""
    named: list[tuple[str, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        name, tab, text = line.partition("\t")
        if not tab:
            name, text = "", line
        if not text.strip():
            continue
        if name and not re.fullmatch(r"[\w-]{1,80}", name):
            _fail(f"line {number}: {name!r} is no file name (letters, digits, - and _)")
        named.append((name or f"{len(named) + 1:03d}", text.strip()))
    if not named:
        _fail(f"{path} has no prompt")
    if len({name for name, _ in named}) < len(named):
        _fail(f"{path} names two prompts the same")
    return named


@app.command()
def status(batch: Annotated[str, typer.Argument(help="Batch id.")]) -> None:
    """Show a batch's progress."""
    try:
        info = _client().json("GET", f"/v1/batches/{batch}")
    except ApiError as exc:
        _fail(str(exc), exc.exit_code)
    table = Table(title=f"batch {info['id']} ({info['kind']}, {info['lines']} lines)")
    for name in info["counts"]:
        table.add_column(name, justify="right")
    table.add_row(*(str(n) for n in info["counts"].values()))
    console.print(table)
    console.print("done" if info["done"] else "in progress")
    if info.get("audio_url"):
        console.print(f"audio: {info['audio_url']}")


@app.command()
def cancel(batch: Annotated[str, typer.Argument(help="Batch id.")]) -> None:
    """Cancel a batch: its lines not yet started never start, running lines finish, finished
    audio is kept. A batch that has ended is left as it is."""
    try:
        info = _client().json("POST", f"/v1/batches/{batch}/cancel")
    except ApiError as exc:
        _fail(str(exc), exc.exit_code)
    counts = info["counts"]
    console.print(
        f"batch {info['id']}: {info['status']}; {counts['cancelled']} lines cancelled, {counts['running']} running "
        f"(they finish), {counts['succeeded']} succeeded, {counts['failed']} failed"
    )


@app.command(epilog='\b\nvoxq dialect "侬今朝夜饭吃啥？"\nvoxq dialect eval ../shared/data/dialect-dev.tsv')
def dialect(
    args: Annotated[list[str], typer.Argument(help="TEXT to identify, or: eval FILE.tsv (columns text, label).")],
    region: Annotated[str | None, typer.Option(help="The speaker's region, passed to the LLM as context.")] = None,
    via_api: Annotated[
        bool, typer.Option(help="eval: send the texts through the API (hybrid when an LLM is set).")
    ] = False,
) -> None:
    """Which variety a text is in (through the API), or evaluate the detector on a labelled file."""
    from cli import dialect as dialect_cli

    try:
        if args[0] == "eval":
            if len(args) != 2:
                _fail("usage: voxq dialect eval FILE.tsv")
            dialect_cli.evaluate_file(Path(args[1]), via_api, console)
        else:
            dialect_cli.identify(" ".join(args), {"region": region} if region else {}, console)
    except ApiError as exc:
        _fail(str(exc), exc.exit_code)


@app.command()
def requeue(
    older_than: Annotated[
        float | None,
        typer.Option(help="Seconds since a job's message was sent, still not started (default VOXQ_REQUEUE_AFTER_S)."),
    ] = None,
    every: Annotated[float | None, typer.Option(help="Run again every this many seconds, until stopped.")] = None,
) -> None:
    """Run the reconciler: queue again the jobs whose worker was lost (lease ran out), and send
    again the jobs whose message was sent a while ago and that never started. With --every, the
    dispatcher runs in this process too, between passes. The API runs both; one process acts at
    a time, so this is safe to schedule anywhere."""
    from shared.jobs.dispatch import Dispatcher
    from shared.jobs.reconcile import reconcile_once

    if older_than is not None and older_than < 0:
        _fail("--older-than must be 0 or more seconds")
    if every is not None and every <= 0:
        _fail("--every must be more than 0 seconds")
    settings = get_settings()
    if older_than is not None:
        settings = settings.model_copy(update={"requeue_after_s": older_than})
    if every is not None:
        Dispatcher(settings).start()  # a daemon thread: it ends with this command
    while True:
        deadline = time.monotonic() + max(30.0, 3 * settings.reconcile_every_s)
        while (done := reconcile_once(settings)) is None and time.monotonic() < deadline:
            time.sleep(0.5)  # another process's pass holds the lock for a moment
        console.print(f"sent again: {done}" if done is not None else "another reconciler kept the lock; try again")
        if every is None:
            return
        time.sleep(every)


@app.command()
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be freed; delete nothing.")] = False,
    vacuum: Annotated[
        bool,
        typer.Option(
            "--vacuum",
            help="Afterwards, give the freed space back to the file system (SQLite: VACUUM, which rewrites the "
            "file and holds writers back meanwhile; Postgres: VACUUM of the snippets table).",
        ),
    ] = False,
) -> None:
    """Delete the audio whose retention ran out (VOXQ_SNIPPET_RETENTION_DAYS after the batch or job that
    used it ended; precomputed phrases stay until deleted), in chunks of VOXQ_SNIPPET_SWEEP_CHUNK rows. The
    reconciler does the same every pass; this does all of it now."""
    from shared.audio import retention
    from shared.db import new_session

    if dry_run and vacuum:
        _fail("--dry-run deletes nothing, so there is nothing to vacuum")
    settings = get_settings()
    swept = retention.sweep(new_session, settings, dry_run=dry_run)
    console.print(f"{'would free' if dry_run else 'freed'}: {swept}")
    with new_session() as session:
        before = retention.database_space(session)
    if vacuum:
        retention.vacuum()
        with new_session() as session:
            console.print(f"vacuumed: {_space(before)} before, {_space(retention.database_space(session))} after")
    else:
        console.print(f"database: {_space(before)}")


def _space(space: dict[str, int]) -> str:
    return ", ".join(
        f"{name.replace('_bytes', '').replace('_', ' ')} {n / 2**20:,.1f} MiB" for name, n in space.items()
    )


@keys_app.command("create")
def keys_create(tenant: Annotated[str, typer.Option(help="Tenant name; created if new.")]) -> None:
    """Create an API key for a tenant and print it (it is shown only once)."""
    from shared.db import session_scope
    from shared.tenants.auth import create_key

    if not tenant.strip():
        _fail("tenant name is empty")
    with session_scope() as session:
        key = create_key(session, tenant.strip())
    console.print(key)


@keys_app.command("limits")
def keys_limits(
    tenant: Annotated[str, typer.Option(help="Tenant name.")],
    daily_synth_chars: Annotated[
        int | None, typer.Option(min=0, max=_MAX_QUOTA, help="Its characters to synthesise a UTC day; 0: no limit.")
    ] = None,
    daily_llm_jobs: Annotated[
        int | None, typer.Option(min=0, max=_MAX_QUOTA, help="Its LLM jobs a UTC day; 0: no limit.")
    ] = None,
    weight: Annotated[
        float | None,
        typer.Option(
            min=0.01, max=1000.0, help="Its share of the workers against other tenants' waiting lines (default 1)."
        ),
    ] = None,
    reset: Annotated[
        bool,
        typer.Option("--reset", help="Back to the deployment's (VOXQ_DAILY_*) and weight 1, before any value given."),
    ] = False,
) -> None:
    """Show a tenant's daily quotas, what it has used today and its weight; with options, set its own."""
    from redis import RedisError

    from shared.db import session_scope
    from shared.errors import NotFound
    from shared.tenants import quota

    settings = get_settings()
    with session_scope() as session:
        try:
            row = quota.find_tenant(session, tenant.strip())
        except NotFound as exc:
            _fail(str(exc))
        if reset:
            row.daily_synth_chars = row.daily_llm_jobs = None
            row.weight = 1.0
        if weight is not None:
            row.weight = weight
        if daily_synth_chars is not None:
            row.daily_synth_chars = daily_synth_chars
        if daily_llm_jobs is not None:
            row.daily_llm_jobs = daily_llm_jobs
        own = {q: getattr(row, f"daily_{q.name}") for q in quota.QUOTAS}
        limits = {q: quota.quota_for(row, q, settings) for q in quota.QUOTAS}
        tenant_id, share = row.id, row.weight
    console.print(f"tenant {tenant.strip()} ({tenant_id}), weight {share:g} (a share of the workers), per UTC day:")
    for q in quota.QUOTAS:
        limit = limits[q]
        whose = "its own" if own[q] is not None else "the deployment's"
        try:
            used = f"{quota.used_today(tenant_id, q):,}"
        except RedisError:
            used = "unknown (Redis unreachable)"
        shown = f"{limit:,}" if limit is not None else "no limit"
        console.print(f"  {q.counts}: {shown} ({whose}); used today: {used}")


@keys_app.command("webhook-secret")
def keys_webhook_secret(tenant: Annotated[str, typer.Option(help="Tenant name.")]) -> None:
    """Make the secret that signs the tenant's webhooks and print it (shown only once; a new
    one replaces the old at once)."""
    from shared.db import session_scope
    from shared.errors import NotFound
    from shared.tenants import quota
    from shared.webhooks import callbacks

    with session_scope() as session:
        try:
            row = quota.find_tenant(session, tenant.strip())
        except NotFound as exc:
            _fail(str(exc))
        row.webhook_secret = secret = callbacks.new_secret()
    console.print(secret)


@app.command()
def demo(
    script: Annotated[Path, typer.Option(help="Script to speak.")] = Path("examples/chapter.txt"),
    out: Annotated[Path, typer.Option(help="Where the chapter audio goes.")] = Path("out/chapter.wav"),
    port: Annotated[int, typer.Option(help="Port for the demo API.")] = 8000,
) -> None:
    """Run the embedded default end to end: migrate, start a TTS worker and the API, speak a chapter."""
    from cli.demo import run_demo

    try:
        run_demo(script, out, port, console)
    except ApiError as exc:
        _fail(str(exc), exc.exit_code)


if __name__ == "__main__":
    sys.exit(app())
