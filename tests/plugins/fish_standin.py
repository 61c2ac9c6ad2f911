"""The Fish Speech stand-in server as a real process, as a session-scoped pytest fixture.

``fish_server`` starts ``python -m tests.standins.fish_speech_server`` under uvicorn on a
free port with a random bearer key, waits until ``/v1/health`` answers, yields its base URL
and key, and stops it at the end of the session. ``run_fish_standin`` starts extra ones
with other options (a slow "model", a text limit) for the tests that need them.

``fish_stack`` (sqlite and postgres) runs a whole VoxQueue with ``VOXQ_TTS_ENGINE=fish_speech``:
the API and one TTS worker slot (one slot per Fish Speech server) as real processes, on a
private Redis server.

Enable with ``pytest_plugins = ["tests.plugins.fish_standin"]`` in the root conftest.
"""

from __future__ import annotations

import logging
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.plugins.tiers import starts_processes

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30.0


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@contextmanager
def run_fish_standin(
    api_key: str | None = None, *, delay_s: float = 0.0, max_text_length: int = 0, port: int | None = None
) -> Iterator[FishServer]:
    """Start a stand-in process, wait for health, yield it, and stop it."""
    port = port or _free_port()
    cmd = [sys.executable, "-m", "tests.standins.fish_speech_server", "--port", str(port)]
    cmd += ["--delay-s", str(delay_s), "--max-text-length", str(max_text_length)]
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
                pytest.fail(
                    f"Fish Speech stand-in exited with {proc.returncode}:\n{_log_tail(log_path)}", pytrace=False
                )
            try:
                if httpx.get(f"{base_url}/v1/health", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() - started > STARTUP_TIMEOUT_S:
                pytest.fail(f"Fish Speech stand-in not healthy after {STARTUP_TIMEOUT_S}s:\n{_log_tail(log_path)}")
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


@pytest.fixture(scope="session")
@starts_processes
def fish_server() -> Iterator[FishServer]:
    """A stand-in Fish Speech server with a bearer key, shared by the whole session."""
    with run_fish_standin(api_key=secrets.token_urlsafe(16)) as server:
        yield server


# --- whole VoxQueue stacks whose TTS pool is Fish Speech (the stand-in) -----------------------


@pytest.fixture(scope="session")
@starts_processes
def private_redis() -> Iterator[str]:
    """A Redis server of this session alone. Test sessions run side by side on one machine,
    and a worker of another session on the shared Redis would take (and drop) our jobs."""
    port = _free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("could not start a private redis-server", pytrace=False)
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def fish_pg_database() -> Iterator[str]:
    """A Postgres database of its own, so the Fish stack shares no rows with the espeak stacks."""
    from deploy.stack import fresh_pg_database

    with fresh_pg_database("voxq_fish") as url:
        yield url


@pytest.fixture(scope="session")
@starts_processes
def fish_sqlite_stack(
    tmp_path_factory: pytest.TempPathFactory, fish_server: FishServer, private_redis: str
) -> Iterator[Any]:
    """API + one TTS worker slot (one slot per Fish Speech server) on SQLite."""
    from deploy.stack import sqlite_url, start_stack

    folder = tmp_path_factory.mktemp("fish-stack-sqlite")
    env = {**fish_server.env, "VOXQ_REDIS_URL": f"{private_redis}/0"}
    stack = start_stack(folder, sqlite_url(folder), tts_workers=1, **env)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
@starts_processes
def fish_postgres_stack(
    tmp_path_factory: pytest.TempPathFactory, fish_server: FishServer, fish_pg_database: str, private_redis: str
) -> Iterator[Any]:
    """API + one TTS worker slot on Postgres."""
    from deploy.stack import start_stack

    env = {**fish_server.env, "VOXQ_REDIS_URL": f"{private_redis}/1"}
    stack = start_stack(tmp_path_factory.mktemp("fish-stack-pg"), fish_pg_database, tts_workers=1, **env)
    yield stack
    stack.stop()


@pytest.fixture(params=["sqlite", "postgres"])
@starts_processes
def fish_stack(request: pytest.FixtureRequest) -> Any:
    """The whole system speaking through Fish Speech, on each database."""
    return request.getfixturevalue(f"fish_{request.param}_stack")
