"""The one settings object. Every knob is an environment variable prefixed ``VOXQ_``.

API processes and workers read the same variables, so one ``.env`` file (or one set of
container env vars) configures a whole deployment.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOXQ_", env_file=".env", extra="ignore")

    # --- where things live ---------------------------------------------------------------
    data_dir: Path = Field(
        Path.home() / ".local/share/voxqueue",
        description="Folder for the default SQLite database and local state.",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Celery broker (Redis).")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default is a SQLite file in data_dir. Postgres: postgresql+psycopg://user@host/db",
    )
    sqlite_busy_timeout_ms: int = Field(30_000, description="How long SQLite waits on a locked database.")

    # --- queues --------------------------------------------------------------------------
    visibility_timeout_s: int = Field(
        3600,
        description="Redis visibility timeout: an unacknowledged task is redelivered after this. "
        "Must exceed the longest task (a long synthesis chunk or a slow LLM reply).",
    )
    task_max_retries: int = Field(5, description="Retries of a retryable engine failure before a job fails.")
    task_retry_backoff_max_s: int = Field(120, description="Cap of the exponential retry backoff.")

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
        description="A job still queued this long with no message on the broker (a flushed or restarted "
        "Redis, a crash between commit and enqueue) is sent again by the reconciler.",
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
    espeak_library: str | None = Field(
        None,
        description="Path or soname of libespeak-ng, which the espeak engine loads into the worker; "
        "unset: the system's (libespeak-ng.so.1, Debian package libespeak-ng1).",
    )
    tts_group_size: int = Field(
        1,
        ge=1,
        le=256,
        description="Lines of a batch carried by one queue message. 1 suits a GPU engine, whose line takes far "
        "longer than a message costs, and records each line as soon as it is spoken; more spares the "
        "control plane per-message work where lines are cheap.",
    )
    fish_speech_url: str = Field("http://127.0.0.1:8080", description="Fish Speech API server base URL.")
    fish_speech_api_key: str | None = Field(None, description="Bearer key of the Fish Speech server, if set.")
    fish_speech_timeout_s: float = Field(300.0, description="Timeout of one Fish Speech request.")
    fish_speech_model: str = Field(
        "openaudio-s1-mini",
        description="Checkpoint the Fish Speech server runs. Part of every snippet key, so that after a "
        "model change no line is served the old model's audio.",
    )

    # --- LLM pool ------------------------------------------------------------------------
    llm_url: str | None = Field(
        None, description="vLLM OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1; unset = no LLM."
    )
    llm_model: str = Field("Qwen/Qwen3-1.7B", description="Model name the vLLM server serves.")
    llm_api_key: str | None = Field(None, description="Bearer key of the vLLM server, if set.")
    llm_timeout_s: float = Field(120.0, description="Timeout of one LLM request.")
    llm_concurrency: int = Field(32, description="Requests one LLM worker keeps in flight.")
    llm_group_size: int = Field(
        16,
        ge=1,
        le=256,
        description="Dialect jobs carried by one queue message and sent to vLLM as one batch request; "
        "a worker runs llm_concurrency / llm_group_size messages at once.",
    )

    # --- limits --------------------------------------------------------------------------
    max_text_chars: int = Field(5_000, description="Longest text of a single job (and of a line of a script).")
    max_prompt_chars: int = Field(20_000, description="Longest message, persona or history turn of a generation.")
    max_script_bytes: int = Field(32 * 1024 * 1024, description="Largest bulk script upload.")
    max_script_lines: int = Field(50_000, description="Most lines in one bulk script.")
    max_chunk_chars: int = Field(120, description="Longest sentence chunk sent to a TTS engine at once.")
    pause_between_chunks_ms: int = Field(250, description="Silence joined between chunks and lines.")
    voice_clip_max_bytes: int = Field(20 * 1024 * 1024, description="Largest reference clip upload of a library voice.")
    voice_clip_min_s: float = Field(
        3.0, description="Shortest reference clip: less gives the cloning engine too little voice."
    )
    voice_clip_max_s: float = Field(
        90.0, description="Longest reference clip (Fish Speech: at most 90 s; 10-30 s works best)."
    )
    speech_wait_s: float = Field(
        300.0, description="How long POST /v1/audio/speech waits for its synthesis job before answering 503."
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
        description="Ceiling of a book's sample peaks after the gain (a look-ahead limiter holds it); -1 as "
        "Apple and Spotify ask, -3 for ACX.",
    )
    book_aac_kbps: int = Field(64, ge=16, le=320, description="AAC bit rate of an M4B (mono speech).")

    # --- limits between tenants (counted in Redis, so they hold across API processes) -----
    rate_limit_per_min: int = Field(
        0, ge=0, description="Submissions (requests that create jobs or batches) per API key per minute; 0: no limit."
    )
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

    # --- webhooks (callback_url; sent by the reconciler's sweep, shared/webhooks/callbacks.py) -------
    webhook_allow_private: bool = Field(
        False,
        description="Accept callback URLs on loopback, link-local and private addresses (a receiver on this "
        "machine or network); off, they are refused at submission and again at every send.",
    )
    webhook_timeout_s: float = Field(
        5.0, gt=0, description="Timeout of each phase (connect, write, read) of one webhook request."
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
        description="Webhooks sent at once by a sweep; a sweep sends at most four times this many, so that slow "
        "receivers cannot hold up the reconciler.",
    )

    # --- API and operations --------------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Address `voxq api` listens on.")
    api_port: int = Field(8000, description="Port `voxq api` listens on.")
    api_url: str = Field("http://127.0.0.1:8000", description="Where the CLI finds the API.")
    api_key: str | None = Field(None, description="Key the CLI sends; default is the local key file.")
    flower_user: str = Field("admin", description="Flower basic-auth user.")
    flower_password: str | None = Field(None, description="Flower basic-auth password (required to start Flower).")
    metrics_token: str | None = Field(
        None,
        description="Bearer token that GET /metrics answers to (give it to Prometheus); unset: any valid API key.",
    )

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.expanduser() / 'voxqueue.db'}"

    @property
    def local_key_file(self) -> Path:
        return self.data_dir.expanduser() / "local-api-key"


@lru_cache
def get_settings() -> Settings:
    return Settings()
