"""The one settings object. Every knob is an environment variable prefixed ``VOXQ_``.

API processes and workers read the same variables, so one ``.env`` file (or one set of
container env vars) configures a whole deployment.

The settings are checked when they are read: each URL must parse, each number lie in its range,
and the settings that depend on each other must agree (`Settings._agree`). Secrets are
`SecretStr`, so neither a repr nor a validation error shows them; a reader calls
`.get_secret_value()`. A ``VOXQ_`` variable that names no setting is warned about at start-up
(`unknown_variables`), since a typo would otherwise leave the default silently in force.
"""

import difflib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    Field,
    RedisDsn,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

ENV_PREFIX = "VOXQ_"

# The longest hard time limit (Celery `time_limit`) of any task, which the visibility timeout must
# exceed: voxq.media.book (workers/books/tasks.py: 1800 s soft, 1860 s hard) is the longest;
# voxq.tts.synthesize has 960 s, and voxq.llm.generate and voxq.llm.dialect have
# `llm_task_time_limits` (540 s at the default VOXQ_LLM_TIMEOUT_S, held within this by a check
# below). A test checks every registered task against it.
LONGEST_TASK_S = 1860

# VOXQ_ variables that are not settings, on purpose, so they are not warned about:
ALLOWED_VARIABLES = frozenset(
    {
        # deploy/compose.yaml: the Postgres container's password (it goes into VOXQ_DATABASE_URL),
        # the host ports of the API and Flower, and where the Fish Speech weights are.
        "VOXQ_POSTGRES_PASSWORD",
        "VOXQ_API_PUBLISH",
        "VOXQ_FLOWER_PUBLISH",
        "VOXQ_FISH_CHECKPOINTS",
        # deploy/compose.yaml: Redis's passwords, for the API's user and the workers' (they go into
        # VOXQ_REDIS_URL).
        "VOXQ_REDIS_PASSWORD",
        "VOXQ_REDIS_WORKER_PASSWORD",
        # deploy/dev-services.sh (the Makefile sets it to 0) and deploy/docker-setup.sh.
        "VOXQ_NEED_POSTGRES",
        "VOXQ_DOCKER_CACHE",
        # The CPU vLLM server of the LLM tests: deploy/vllm_server.py, deploy/vllm-cpu/*.sh.
        "VOXQ_VLLM_VENV",
        "VOXQ_VLLM_PYTHON",
        "VOXQ_VLLM_SERVED_NAME",
        "VOXQ_VLLM_SCRATCH",
        "VOXQ_VLLM_HOST",
        "VOXQ_VLLM_KV_BYTES",
        # Tests only: deploy/compose-test.sh, deploy/stack.py, tests/deploy/test_compose.py.
        "VOXQ_TEST_PROJECT",
        "VOXQ_TEST_COMPOSE_FILE",
        "VOXQ_TEST_PG_ADMIN",
        "VOXQ_TEST_API_PORT",
        "VOXQ_TEST_FLOWER_PORT",
    }
)


def llm_task_time_limits(llm_timeout_s: float) -> tuple[int, int]:
    """(soft, hard) time limit of an LLM task: its worst case is every in-client attempt (four)
    timing out, plus the backoff between them; the hard limit comes 30 s after the soft one."""
    soft = int(llm_timeout_s * 4 + 30)
    return soft, soft + 30


# --- URL checks: the field stays the string as given (redis, httpx and string joins take it
# as it is); a URL type only checks it, since it would normalise it (a trailing slash) ---------


def _url_check(adapter: TypeAdapter[Any], what: str, empty_ok: bool = False) -> Callable[[str], str]:
    def check(value: str) -> str:
        if empty_ok and not value:  # an empty variable means unset, as None does
            return value
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            raise ValueError(f"not {what}: {exc.errors()[0]['msg']}") from None
        return value

    return check


def _sqlalchemy_url(value: str) -> str:
    """The URL as given, once SQLAlchemy can parse it and knows its dialect and driver."""
    if not value:  # empty: the default SQLite file, as unset
        return value
    # Imported here: only a process given a database URL pays for SQLAlchemy at start-up.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(value).get_dialect()
    except NoSuchModuleError as exc:  # an ArgumentError too: first
        raise ValueError(f"unknown database dialect or driver ({exc}); Postgres is postgresql+psycopg://") from None
    except ArgumentError:
        # The message names no part of the URL, which may hold a password.
        raise ValueError(
            "not a SQLAlchemy URL, e.g. sqlite:////path/voxqueue.db or postgresql+psycopg://user:pw@host/db"
        ) from None
    return value


# --- Redis Sentinel: the URL list kombu reads, which redis-py's clients are built from too ---

SENTINEL_SCHEME = "sentinel://"
SENTINEL_PORT = 26379  # kombu's SentinelTransport.default_port, and Sentinel's own
_REDIS_DSN: TypeAdapter[RedisDsn] = TypeAdapter(RedisDsn)
_plain_redis_url = _url_check(_REDIS_DSN, "a Redis URL (redis://host:port/db)")


@dataclass(frozen=True)
class SentinelUrl:
    """`sentinel://[user:password@]host1:26379[/db];sentinel://host2:26379;...` taken apart as
    kombu takes it: every part names a Sentinel; the username, password and db of the first part
    are the Redis servers' (the Sentinels' own password is VOXQ_REDIS_SENTINEL_PASSWORD)."""

    sentinels: tuple[tuple[str, int], ...]
    db: int
    username: str | None
    password: str | None


def is_sentinel_url(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME)


def parse_sentinel_url(url: str) -> SentinelUrl:
    """The parts of a Sentinel URL list; ValueError naming what is wrong, never the password."""
    sentinels: list[tuple[str, int]] = []
    first: tuple[str | None, str | None, int] | None = None  # username, password, db
    for number, part in enumerate(url.split(";"), 1):
        if not part:
            # kombu would fill an empty part in with localhost (a trailing ";").
            raise ValueError(f"part {number} is empty (a stray ';'?)")
        if not part.startswith(SENTINEL_SCHEME):
            raise ValueError(f"part {number} does not begin with {SENTINEL_SCHEME}; every part names a Sentinel")
        try:  # the rest is a Redis URL's: user, password, host, port, db
            _REDIS_DSN.validate_python("redis://" + part.removeprefix(SENTINEL_SCHEME))
            parsed = urlsplit(part)
            port = parsed.port or SENTINEL_PORT
        except (ValidationError, ValueError):
            raise ValueError(f"part {number} is not host:port[/db]") from None
        if not parsed.hostname:
            raise ValueError(f"part {number} names no host")  # RedisDsn would fill in localhost
        if parsed.query or parsed.fragment:
            raise ValueError(f"part {number} has a query or fragment, which would not be read")
        db_text = parsed.path.strip("/") or "0"
        if not db_text.isdigit():
            raise ValueError(f"part {number}: the database must be a number, as /0")
        given = (
            unquote(parsed.username) if parsed.username else None,
            unquote(parsed.password) if parsed.password is not None else None,
            int(db_text),
        )
        if first is None:
            first = given
        elif (
            (given[0] is not None and given[0] != first[0])
            or (given[1] is not None and given[1] != first[1])
            or (parsed.path.strip("/") and given[2] != first[2])
        ):
            # kombu reads the first part's alone: a different one later would be silently ignored.
            raise ValueError(f"part {number} gives another username, password or db than part 1, which alone is read")
        sentinels.append((parsed.hostname, port))
    assert first is not None  # split() gives at least one part
    return SentinelUrl(tuple(sentinels), db=first[2], username=first[0], password=first[1])


def sentinel_password(settings: "Settings") -> str | None:
    """The Sentinels' own password, None when unset or empty (an empty variable means unset)."""
    secret = settings.redis_sentinel_password
    return secret.get_secret_value() or None if secret is not None else None


def _redis_url(value: str) -> str:
    """A Redis URL, or a Sentinel URL list (kombu's form); the value as given."""
    if not is_sentinel_url(value):
        return _plain_redis_url(value)
    try:
        parse_sentinel_url(value)
    except ValueError as exc:
        raise ValueError(
            f"not a Sentinel URL list (sentinel://[:password@]host1:26379[/db];sentinel://host2:26379;...): {exc}"
        ) from None
    return value


HttpUrlStr = Annotated[str, AfterValidator(_url_check(TypeAdapter(AnyHttpUrl), "an http(s) URL"))]
OptionalHttpUrlStr = Annotated[str, AfterValidator(_url_check(TypeAdapter(AnyHttpUrl), "an http(s) URL", True))]
RedisUrlStr = Annotated[str, AfterValidator(_redis_url)]
SqlAlchemyUrlStr = Annotated[str, AfterValidator(_sqlalchemy_url)]


class Settings(BaseSettings):
    # hide_input_in_errors: an error must not print what was given, which may be a secret or a
    # URL with a password in it (a cross-field error would print every setting).
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", hide_input_in_errors=True)

    # --- where things live ---------------------------------------------------------------
    data_dir: Path = Field(
        Path.home() / ".local/share/voxqueue",
        description="Folder for the default SQLite database and local state.",
    )
    redis_url: RedisUrlStr = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis: the Celery broker, and the lanes, notices and counters. redis://[:password@]host:port/db, "
        "or Redis Sentinel in kombu's form, one part per Sentinel: "
        "sentinel://[:password@]host1:26379[/db];sentinel://host2:26379;... (the password and db of the first "
        "part are the Redis servers'; VOXQ_REDIS_SENTINEL_MASTER names the master).",
    )
    redis_sentinel_master: str = Field(
        "mymaster",
        min_length=1,
        description="With a sentinel:// VOXQ_REDIS_URL: the name the Sentinels monitor the master by "
        "(`sentinel monitor NAME host port quorum`).",
    )
    redis_sentinel_password: SecretStr | None = Field(
        None,
        description="With a sentinel:// VOXQ_REDIS_URL: the password of the Sentinel processes themselves (their "
        "requirepass), if they have one. Not the Redis servers' password, which the URL carries.",
    )
    database_url: SqlAlchemyUrlStr | None = Field(
        None,
        description="SQLAlchemy URL; default is a SQLite file in data_dir. Postgres: postgresql+psycopg://user@host/db",
    )
    sqlite_busy_timeout_ms: int = Field(30_000, gt=0, description="How long SQLite waits on a locked database.")

    # --- queues --------------------------------------------------------------------------
    visibility_timeout_s: int = Field(
        3600,
        gt=0,
        description="Redis visibility timeout: an unacknowledged task is redelivered after this. Must be longer "
        f"than the longest task's time limit (LONGEST_TASK_S, {LONGEST_TASK_S} s: a book build).",
    )
    task_max_retries: int = Field(5, ge=0, description="Retries of a retryable engine failure before a job fails.")
    task_retry_backoff_max_s: int = Field(120, gt=0, description="Cap of the exponential retry backoff.")

    # --- recovery --------------------------------------------------------------------------
    lease_s: float = Field(
        30.0,
        gt=0,
        description="How long a worker holds a running job without renewing it (it renews every third of "
        "this). A job whose worker is lost (killed, cut off) is queued again once its lease runs out.",
    )
    reconcile_every_s: float = Field(
        10.0, gt=0, description="How often the reconciler looks for jobs to send again (one acts at a time)."
    )
    requeue_after_s: float = Field(
        30.0,
        ge=0,
        description="A job whose message was sent this long ago and that has still not started is sent again by "
        "the reconciler (a flushed or failed-over Redis, a crash between commit and enqueue). The database "
        "says so alone; a message sent twice runs once.",
    )
    dispatch_window: int = Field(
        32,
        ge=1,
        le=10_000,
        description="Messages a lane's Redis list holds of batches' lines; the rest waits in the database and "
        "the dispatcher tops the list up as workers take from it. About four per worker slot of the pool: "
        "enough that no worker waits for a top-up, few enough that a new tenant's lines go next.",
    )
    dispatch_live_window: int = Field(
        4,
        ge=1,
        le=10_000,
        description="Messages the live list holds of batches sent with priority=live: a single request of any "
        "tenant waits behind at most this many of them, however big a live batch is sent.",
    )
    dispatch_every_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often the dispatcher looks at the lists besides when a worker finishes a job.",
    )
    dispatch_in_api: bool = Field(
        True,
        description="Run the dispatcher in the API process (the embedded default); `voxq requeue --every` also "
        "runs it. One acts at a time per pool, whatever runs it.",
    )
    accept_processes: int = Field(
        1,
        ge=0,
        le=16,
        description="Processes the API accepts batches in (parsing and storing a script's lines), apart from "
        "the ones serving requests, so that live requests never wait behind an upload; 0: on the API's threads.",
    )
    reconcile_in_api: bool = Field(
        True,
        description="Run the reconciler in the API process (the embedded default); `voxq requeue --every` also runs it.",
    )
    db_retry_s: float = Field(
        60.0,
        ge=0,
        description="How long a worker retries an unreachable database before it gives its message back to the "
        "queue; the API answers 503 meanwhile.",
    )
    worker_shutdown_grace_s: float = Field(
        60.0,
        ge=0,
        description="On SIGTERM a worker finishes its running jobs within this time, then gives back what is left.",
    )

    # --- TTS pool ------------------------------------------------------------------------
    tts_engine: Literal["espeak", "fish_speech"] = Field(
        "espeak", description="espeak: embedded CPU voice; fish_speech: a Fish Speech HTTP server."
    )
    openai_voice: str | None = Field(
        None,
        description="The voice OpenAI's voice names (alloy, nova, ...) speak in at POST /v1/audio/speech, unless "
        "VOXQ_OPENAI_VOICES names one for that name; unset: the engine's default voice.",
    )
    openai_voices: dict[str, str] = Field(
        default_factory=dict,
        description='A voice per OpenAI voice name, as JSON: {"alloy": "cmn", "nova": "voice_..."}.',
    )
    espeak_library: str | None = Field(
        None,
        description="Path or soname of libespeak-ng, which the espeak engine loads into the worker; "
        "unset: the espeakng-loader wheel's (espeak-ng 1.52, its espeak-ng-data beside it). Another build reads "
        "its data from ESPEAK_DATA_PATH, or from where it was built to look.",
    )
    tts_group_size: int = Field(
        1,
        ge=1,
        le=256,
        description="Synthesis jobs carried by one queue message: a batch's lines, and as well the sentences of "
        "a streamed speech or a spoken reply and the jobs the reconciler sends again. 1 suits a GPU "
        "engine, whose line takes far longer than a message costs, and records each line as soon as it is "
        "spoken; more spares the control plane per-message work where lines are cheap.",
    )
    fish_speech_url: HttpUrlStr = Field("http://127.0.0.1:8080", description="Fish Speech API server base URL.")
    fish_speech_api_key: SecretStr | None = Field(None, description="Bearer key of the Fish Speech server, if set.")
    fish_speech_timeout_s: float = Field(300.0, gt=0, description="Timeout of one Fish Speech request.")
    fish_speech_model: str = Field(
        "openaudio-s1-mini",
        description="Checkpoint the Fish Speech server runs. Part of every snippet key, so that after a "
        "model change no line is served the old model's audio.",
    )

    # --- LLM pool ------------------------------------------------------------------------
    llm_url: OptionalHttpUrlStr | None = Field(
        None, description="vLLM OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1; unset = no LLM."
    )
    llm_model: str = Field("Qwen/Qwen3-1.7B", description="Model name the vLLM server serves.")
    llm_api_key: SecretStr | None = Field(None, description="Bearer key of the vLLM server, if set.")
    llm_timeout_s: float = Field(120.0, gt=0, description="Timeout of one LLM request.")
    llm_concurrency: int = Field(32, ge=1, description="Requests one LLM worker keeps in flight.")
    llm_group_size: int = Field(
        16,
        ge=1,
        le=256,
        description="LLM jobs (dialect or generation) carried by one queue message; a dialect group is sent "
        "to vLLM as one batch request. A worker runs llm_concurrency / llm_group_size messages at once.",
    )

    # --- limits --------------------------------------------------------------------------
    max_text_chars: int = Field(5_000, ge=1, description="Longest text of a single job (and of a line of a script).")
    max_prompt_chars: int = Field(20_000, ge=1, description="Longest message, persona or history turn of a generation.")
    max_body_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="Largest request body of a single request (JSON); batches and voice clips have their own limits.",
    )
    max_script_bytes: int = Field(32 * 1024 * 1024, ge=1, description="Largest bulk script upload.")
    max_script_lines: int = Field(50_000, ge=1, description="Most lines in one bulk script.")
    # An EPUB upload is read within these (shared/books/epub.py), counted while it is inflated and
    # parsed, never taken from the zip's own headers; a book over one is refused, naming it.
    epub_max_entries: int = Field(
        10_000,
        ge=10,
        le=1_000_000,
        description="Most files in an EPUB. A long web novel has a few thousand (a file per chapter); "
        "counted before the zip's directory is read, which costs about 600 bytes and 5 µs a file.",
    )
    epub_max_entry_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest file of an EPUB once inflated (an image, a font); counted while it is inflated.",
    )
    epub_max_unpacked_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024 * 1024,
        description="Most bytes all the files of an EPUB inflate to together, counted while they are inflated. "
        "Images barely compress; text that fills VOXQ_MAX_SCRIPT_LINES lines is some tens of MiB.",
    )
    epub_max_compression_ratio: int = Field(
        100,
        ge=10,
        le=1100,
        description="Most a file of an EPUB may inflate to, as a multiple of its compressed size, checked "
        "once it is past 1 MiB: markup and text compress 3-20 times, a zip bomb about 1000 (deflate's most).",
    )
    epub_max_document_bytes: int = Field(
        8 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest XHTML document (a chapter, the nav, the OPF) of an EPUB; parsed, one takes up to "
        "about 15 times this in memory. Reading systems ask for under 300 KB a document (calibre splits there).",
    )
    epub_max_depth: int = Field(
        100,
        ge=16,
        le=250,
        description="Deepest nesting of elements in an EPUB document (books nest 10-20 deep). At most 250: "
        "libxml2 reads no deeper than 256 and would drop the rest of the text unseen.",
    )
    max_chunk_chars: int = Field(120, ge=1, description="Longest sentence chunk sent to a TTS engine at once.")
    pause_between_chunks_ms: int = Field(
        250,
        ge=0,
        description="Silence joined between the sentence chunks of a line (and the sentences of a streamed "
        "/v1/audio/speech); the lines of a batch's audio are joined with twice this.",
    )
    voice_clip_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1, description="Largest reference clip upload of a library voice."
    )
    voice_clip_min_s: float = Field(
        3.0, gt=0, description="Shortest reference clip: less gives the cloning engine too little voice."
    )
    voice_clip_max_s: float = Field(
        90.0, gt=0, le=90.0, description="Longest reference clip (Fish Speech: at most 90 s; 10-30 s works best)."
    )
    speech_wait_s: float = Field(
        300.0, gt=0, description="How long POST /v1/audio/speech waits for its synthesis job before answering 503."
    )

    audio_dir: Path | None = Field(
        None,
        description="A folder for the snippets' audio (shared/audio/folder.py), seen by the API and every worker; "
        "unset: audio is kept in the database. Moves most of the database's work per line off it.",
    )

    # --- retention of audio (shared/audio/retention.py) ----------------------------------------
    snippet_retention_days: float = Field(
        30.0,
        gt=0,
        description="Days a snippet is kept after the last batch (or single job) that used it ended; then the "
        "reconciler's sweep deletes it. Precomputed phrases are kept until deleted.",
    )
    snippet_sweep_chunk: int = Field(
        500, ge=1, description="Snippets the sweep deletes per statement; it commits after each, so locks stay short."
    )

    # --- telephone audio (G.711 at 8 kHz: wav_ulaw_8k, wav_alaw_8k, ulaw_8k, alaw_8k) -----
    trim_silence: bool = Field(
        True, description="Trim the silence at both ends of audio sent in a telephone format (dead air in a prompt)."
    )
    trim_silence_db: float = Field(
        -50.0, le=0.0, description="Level in dBFS (RMS over 10 ms) below which the ends of a prompt count as silence."
    )
    trim_silence_margin_ms: float = Field(
        30.0, ge=0.0, description="Silence kept before the first and after the last sound, so neither is clipped."
    )

    # --- pronunciation lexicon (per tenant, PUT /v1/lexicon) ------------------------------
    lexicon_max_entries: int = Field(5_000, ge=1, description="Most entries in one tenant's lexicon.")
    lexicon_max_word_chars: int = Field(50, ge=1, description="Longest word (what is matched in a text) of an entry.")
    lexicon_max_reading_chars: int = Field(200, ge=1, description="Longest reading (what is said instead) of an entry.")

    # --- books (GET /v1/batches/{id}/audio?output=m4b|chapters) --------------------------
    book_loudness_lufs: float = Field(
        -18.0,
        ge=-40.0,
        le=-5.0,
        description="Integrated loudness (EBU R128 / ITU-R BS.1770, LUFS) a book is normalised to, one gain for "
        "the whole book. -18: the loud end of what audiobook platforms ask (about -18 to -23), for phones in "
        "noisy places.",
    )
    book_peak_dbfs: float = Field(
        -1.0,
        ge=-12.0,
        le=0.0,
        description="Ceiling of a book's peaks after the gain: sample peaks held by a look-ahead limiter, and an "
        "M4B's true peak measured on the encoded file (encoded again, lower, when over); -1 as Apple and Spotify "
        "ask, -3 for ACX.",
    )
    book_aac_kbps: int = Field(64, ge=16, le=320, description="AAC bit rate of an M4B (mono speech).")

    # --- limits between tenants (counted in Redis, so they hold across API processes) -----
    rate_limit_per_min: int = Field(
        0, ge=0, description="Submissions (requests that create jobs or batches) per API key per minute; 0: no limit."
    )
    download_limit_per_min: int = Field(
        60,
        ge=0,
        description="Downloads of a batch's audio (a chapter, a zip, an M4B) per API key per minute; a range "
        "request past the file's start (a player seeking) is not counted; 0: no limit.",
    )
    max_voices_per_tenant: int = Field(200, ge=1, description="Library voices one tenant may hold.")
    daily_synth_chars: int | None = Field(
        None,
        ge=0,
        description="Characters a tenant may have synthesised per UTC day (cache hits are free); 0 or unset: no "
        "limit. `voxq keys limits` sets a tenant's own.",
    )
    daily_llm_jobs: int | None = Field(
        None,
        ge=0,
        description="LLM jobs (generation, and dialect jobs sent to the LLM) a tenant may submit per UTC day; "
        "0 or unset: no limit. `voxq keys limits` sets a tenant's own.",
    )

    # --- webhooks (callback_url: shared/webhooks/; the reconciler fires them, a sender sends them) -------
    webhook_allow_private: bool = Field(
        False,
        description="Accept callback URLs on loopback, link-local and private addresses (a receiver on this "
        "machine or network); off, they are refused at submission and again at every attempt, IPv6 forms that "
        "carry an IPv4 address (::ffff:a.b.c.d, 64:ff9b::a.b.c.d, 2002::/16, ...) judged by that address.",
    )
    webhook_timeout_s: float = Field(
        5.0,
        gt=0,
        description="Timeout of each phase (connect, write, read) of one webhook request; the whole attempt "
        "is bounded by VOXQ_WEBHOOK_DEADLINE_S as well.",
    )
    webhook_deadline_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Longest one webhook attempt takes in all: resolving the host, connecting, sending and "
        "reading the answer. A receiver still answering then (one that trickles a byte at a time) is cut off, "
        "and the attempt fails and is tried again later.",
    )
    webhook_max_answer_bytes: int = Field(
        4096,
        ge=0,
        le=1024 * 1024,
        description="Most bytes of a receiver's answer that are read: of a 2xx none, of another status this "
        "many, whose start is kept with the attempt; the rest is never read, however large.",
    )
    webhook_retry_for_s: float = Field(
        24 * 3600.0,
        ge=0,
        description="How long a webhook that fails is tried again, from when the reconciler noticed its batch's or "
        "job's end (at most one VOXQ_RECONCILE_EVERY_S after it).",
    )
    webhook_backoff_s: float = Field(
        30.0, gt=0, description="Wait before the first retry of a failed webhook; doubled at every retry."
    )
    webhook_backoff_max_s: float = Field(3600.0, gt=0, description="Cap of the wait between retries of a webhook.")
    webhook_concurrency: int = Field(
        8,
        ge=1,
        le=64,
        description="Webhooks one sender sends at once (`voxq worker webhooks --concurrency` sets its own).",
    )
    webhook_tenant_concurrency: int = Field(
        2,
        ge=1,
        le=64,
        description="Webhooks of one tenant a sender sends at once: a tenant whose receivers are slow or never "
        "answer holds at most this many of VOXQ_WEBHOOK_CONCURRENCY, each for at most VOXQ_WEBHOOK_DEADLINE_S, "
        "and so delays only its own webhooks.",
    )
    webhook_poll_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often a sender with room looks for webhooks that have become due.",
    )
    webhook_send_beside_reconciler: bool = Field(
        True,
        description="Send webhooks on a thread of each process that runs the reconciler pass after pass (the "
        "API with VOXQ_RECONCILE_IN_API, `voxq requeue --every`), apart from the passes, which only fire them. "
        "Off: only `voxq worker webhooks` processes send them. Any number of senders may run: each webhook is "
        "claimed by one at a time.",
    )

    # --- API and operations --------------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Address `voxq api` listens on.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port `voxq api` listens on.")
    api_url: HttpUrlStr = Field("http://127.0.0.1:8000", description="Where the CLI finds the API.")
    api_key: SecretStr | None = Field(None, description="Key the CLI sends; default is the local key file.")
    flower_user: str = Field("admin", description="Flower basic-auth user.")
    flower_password: SecretStr | None = Field(
        None, description="Flower basic-auth password (required to start Flower)."
    )
    metrics_jobs_every_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="How long /metrics shows the same jobs-by-state figure (voxq_jobs) before it counts again: a "
        "count reads the whole jobs table, so scrapes of every API process share one count this often; 0 counts "
        "at every scrape.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token that GET /metrics answers to (give it to Prometheus); unset: the local "
        "tenant's API keys only (the page shows every tenant's figures).",
    )

    @model_validator(mode="after")
    def _agree(self) -> "Settings":
        """The rules between settings that their descriptions state; every broken one is named."""
        broken: list[str] = []
        # A task still running when its visibility timeout ends is delivered to a second worker.
        if self.visibility_timeout_s <= LONGEST_TASK_S:
            broken.append(
                f"VOXQ_VISIBILITY_TIMEOUT_S ({self.visibility_timeout_s}) must be longer than the longest task's "
                f"time limit ({LONGEST_TASK_S} s, a book build), or a running task is delivered again"
            )
        llm_limit = llm_task_time_limits(self.llm_timeout_s)[1]
        if llm_limit > LONGEST_TASK_S:
            most = (LONGEST_TASK_S - 60) / 4  # llm_task_time_limits solved for the hard limit
            broken.append(
                f"VOXQ_LLM_TIMEOUT_S ({self.llm_timeout_s:g}) gives an LLM task a time limit of {llm_limit} s "
                f"(four attempts and their backoff), more than the {LONGEST_TASK_S} s the visibility timeout is "
                f"checked against; at most {most:g}"
            )
        if self.voice_clip_min_s >= self.voice_clip_max_s:
            broken.append(
                f"VOXQ_VOICE_CLIP_MIN_S ({self.voice_clip_min_s:g}) must be less than "
                f"VOXQ_VOICE_CLIP_MAX_S ({self.voice_clip_max_s:g})"
            )
        # A worker runs llm_concurrency / llm_group_size messages: a group larger than the
        # concurrency would put more chats in flight than VOXQ_LLM_CONCURRENCY allows.
        if self.llm_group_size > self.llm_concurrency:
            broken.append(
                f"VOXQ_LLM_GROUP_SIZE ({self.llm_group_size}) must not exceed "
                f"VOXQ_LLM_CONCURRENCY ({self.llm_concurrency}): a worker runs concurrency / group size messages"
            )
        # Only Sentinels are asked with it: set beside a redis:// URL, it is a mistake that would pass unseen.
        if sentinel_password(self) and not is_sentinel_url(self.redis_url):
            broken.append("VOXQ_REDIS_SENTINEL_PASSWORD is set but VOXQ_REDIS_URL is not a sentinel:// URL list")
        if broken:
            raise ValueError("; ".join(broken))
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.expanduser() / 'voxqueue.db'}"

    @property
    def local_key_file(self) -> Path:
        return self.data_dir.expanduser() / "local-api-key"


def known_variables() -> frozenset[str]:
    """Every VOXQ_ name that is read: the settings' and the allowed others'."""
    return frozenset(ENV_PREFIX + name.upper() for name in Settings.model_fields) | ALLOWED_VARIABLES


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """The VOXQ_ variables in `environ` that name no setting and are not allowed others
    (ALLOWED_VARIABLES), sorted. Names match case-insensitively, as the settings read them."""
    known = known_variables()
    return sorted(name for name in environ if name.upper().startswith(ENV_PREFIX) and name.upper() not in known)


def warn_unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Log a warning naming the unknown VOXQ_ variables of `environ`, each with the setting it
    most likely meant; the unknown names, for a caller that wants them."""
    unknown = unknown_variables(environ)
    if unknown:
        known = sorted(known_variables())
        named = []
        for name in unknown:
            close = difflib.get_close_matches(name.upper(), known, n=1)
            named.append(f"{name} (did you mean {close[0]}?)" if close else name)
        logger.warning("VOXQ_ variables that name no setting, so they change nothing: %s", ", ".join(named))
    return unknown


@lru_cache
def get_settings() -> Settings:
    """The process's settings, built (and checked) on first use."""
    # Only the process environment is checked: `.env` is also docker compose's file of
    # substitutions (VOXQ_POSTGRES_PASSWORD and the like), read from the working directory.
    warn_unknown_variables(os.environ)
    return Settings()
