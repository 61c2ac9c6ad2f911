"""Whole VoxQueue stacks on one machine, for tests and benchmarks: fresh databases (SQLite
and Postgres), private Redis databases, and the API and Celery workers as real processes."""

import io
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psycopg
import redis
import soundfile as sf

logger = logging.getLogger(__name__)

PG_ADMIN = os.environ.get(
    "VOXQ_TEST_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres"
)
PG_URL = "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/{name}"
REDIS = "redis://127.0.0.1:6379/{db}"
REPO = Path(__file__).resolve().parents[1]

# Every stack gets a Redis database of its own, so that two stacks' workers never take
# each other's jobs (every stack's queues are named `tts` and `llm`). Claims live in
# database 0 so that concurrent test sessions and benchmarks on one machine agree;
# 15 is the in-process API's of the test session (tests/conftest.py).
_CLAIMABLE = range(1, 15)
_CLAIM = "voxq:test-claim:{db}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_redis_db() -> str:
    """A Redis database no other live process on this machine is using, emptied."""
    claims = redis.Redis.from_url(REDIS.format(db=0))
    for db in _CLAIMABLE:
        key = _CLAIM.format(db=db)
        owner = claims.get(key)
        if owner is not None and _alive(int(owner)):
            continue
        if owner is not None:
            claims.delete(key)  # its owner died without releasing it
        if claims.set(key, os.getpid(), nx=True, ex=6 * 3600):
            url = REDIS.format(db=db)
            redis.Redis.from_url(url).flushdb()
            return url
    raise RuntimeError("every Redis test database (1-14) is claimed by a live process")


def release_redis_db(url: str) -> None:
    db = int(url.rsplit("/", 1)[1])
    claims = redis.Redis.from_url(REDIS.format(db=0))
    if claims.get(_CLAIM.format(db=db)) == str(os.getpid()).encode():
        claims.delete(_CLAIM.format(db=db))


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A new, empty Postgres database, dropped at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'voxqueue.db'}"


def migrated(url: str) -> str:
    from shared.migrate import upgrade

    upgrade(url)
    return url


def spawn(voxq_args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`voxq ARGS` as a process of its own, its output in `log`."""
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "cli", *voxq_args], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )


def new_key(env: dict[str, str], tenant: str) -> str:
    """`voxq keys create` for `tenant` on the database `env` names; the key."""
    argv = [sys.executable, "-m", "cli", "keys", "create", "--tenant", tenant]
    return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


@dataclass
class Stack:
    """A running VoxQueue: the API and workers as real processes on real Redis and a real database."""

    api_url: str
    key: str
    env: dict[str, str]
    data_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    # The shared Redis database this stack claimed (none when it was given a Redis of its own).
    claimed_redis: str | None = None

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=60)

    def new_key(self, tenant: str) -> str:
        return new_key(self.env, tenant)

    def start_worker(self, pool: str, concurrency: int = 1, **extra_env: str) -> subprocess.Popen[bytes]:
        log = self.data_dir / f"worker-{pool}-{len(self.processes)}.log"
        proc = spawn(["worker", pool, "--concurrency", str(concurrency)], self.env | extra_env, log)
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.claimed_redis is not None:
            release_redis_db(self.claimed_redis)


def fetch_book(api: httpx.Client, batch_id: str, params: dict[str, str], timeout_s: float = 600) -> httpx.Response:
    """A finished batch's M4B or chapters zip as a client gets it: the first request answers 202
    with the book job, which is long-polled until it has finished; then the stored file (200)."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = api.get(f"/v1/batches/{batch_id}/audio", params=params, timeout=60)
        if r.status_code != 202:
            return r
        job = r.json()
        while job["status"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"book job {job['id']} still {job['status']} after {timeout_s:.0f}s")
            job = api.get(r.headers["location"], params={"wait": 20}, timeout=60).json()
        if job["status"] != "succeeded":
            raise RuntimeError(f"book job {job['id']} {job['status']}: {job.get('error')}")


def start_stack(data_dir: Path, database_url: str, tts_workers: int = 1, **extra_env: str) -> Stack:
    """Migrate, create a key, start the API and (optionally) a TTS worker; wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "VOXQ_DATA_DIR": str(data_dir),
        "VOXQ_DATABASE_URL": database_url,
        # A claimed database of the machine's Redis, unless the caller brings a Redis of its own:
        # releasing by the URL's database number would free another stack's claim.
        "VOXQ_REDIS_URL": extra_env.get("VOXQ_REDIS_URL") or claim_redis_db(),
        "VOXQ_API_URL": f"http://127.0.0.1:{port}",
        "VOXQ_RECONCILE_IN_API": "1",
        "VOXQ_DISPATCH_IN_API": "1",
        "VOXQ_ACCEPT_PROCESSES": "1",
        **extra_env,
    }
    env.pop("VOXQ_API_KEY", None)
    subprocess.run([sys.executable, "-m", "cli", "migrate"], env=env, cwd=REPO, check=True, capture_output=True)
    stack = Stack(f"http://127.0.0.1:{port}", "", env, data_dir)
    stack.claimed_redis = None if "VOXQ_REDIS_URL" in extra_env else env["VOXQ_REDIS_URL"]
    stack.key = stack.new_key("tenant-a")
    stack.processes.append(spawn(["api", "--port", str(port)], env, data_dir / "api.log"))
    if tts_workers:
        stack.start_worker("tts", tts_workers)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{stack.api_url}/health", timeout=1).status_code == 200:
                return stack
        except httpx.TransportError:
            time.sleep(0.2)
    stack.stop()
    raise RuntimeError(f"the API did not start; log:\n{(data_dir / 'api.log').read_text()[-3000:]}")


# --- the Fish Speech stand-in (deploy/fish_speech_standin.py), for a TTS pool on Fish Speech ----

STANDIN_STARTUP_S = 30.0


@dataclass(frozen=True)
class FishServer:
    base_url: str  # what VOXQ_FISH_SPEECH_URL takes
    api_key: str | None  # what VOXQ_FISH_SPEECH_API_KEY takes
    log_path: Path
    startup_s: float  # from launch to the first healthy /v1/health

    @property
    def env(self) -> dict[str, str]:
        """Environment that points a VoxQueue worker at this server."""
        env = {"VOXQ_TTS_ENGINE": "fish_speech", "VOXQ_FISH_SPEECH_URL": self.base_url}
        if self.api_key:
            env["VOXQ_FISH_SPEECH_API_KEY"] = self.api_key
        return env


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@contextmanager
def run_fish_standin(
    api_key: str | None = None,
    *,
    delay_s: float = 0.0,
    ms_per_char: float = 0.0,
    max_text_length: int = 0,
    port: int | None = None,
) -> Iterator[FishServer]:
    """Start a Fish Speech stand-in process (deploy/fish_speech_standin.py), wait for its
    health, yield it, and stop it; RuntimeError if it does not start."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "deploy.fish_speech_standin", "--port", str(port)]
    cmd += ["--delay-s", str(delay_s), "--ms-per-char", str(ms_per_char), "--max-text-length", str(max_text_length)]
    if api_key:
        cmd.append(f"--api-key={api_key}")  # "=": a key may begin with "-"
    log_dir = Path(tempfile.mkdtemp(prefix="fish-standin-"))
    log_path = log_dir / "server.log"
    base_url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Fish Speech stand-in exited with {proc.returncode}:\n{_log_tail(log_path)}")
            try:
                if httpx.get(f"{base_url}/v1/health", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() - started > STANDIN_STARTUP_S:
                raise RuntimeError(
                    f"Fish Speech stand-in not healthy after {STANDIN_STARTUP_S}s:\n{_log_tail(log_path)}"
                )
            time.sleep(0.05)
        server = FishServer(base_url, api_key, log_path, time.monotonic() - started)
        logger.info("fish speech stand-in at %s healthy after %.2fs", base_url, server.startup_s)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- reference clips, for voices that a stack's Fish Speech workers clone ----------------------

TRANSCRIPT = "这是一段用来克隆声音的参考录音，说话要清楚自然，大约五秒钟。"


def speech_clip(text: str = TRANSCRIPT, fmt: str = "WAV", channels: int = 1, variant: str = "m1") -> bytes:
    """A few seconds of espeak-ng Mandarin, as a reference clip would be."""
    cmd = ["espeak-ng", "-v", f"cmn+{variant}", "--stdout"]
    wav = subprocess.run(cmd, input=text.encode(), capture_output=True, check=True).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    if channels == 2:
        samples = np.stack([samples, samples * 0.5], axis=1)
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt)
    return buf.getvalue()
