"""The Fish Speech stand-in server as a real process, as a session-scoped pytest fixture.

``fish_server`` starts ``python -m deploy.fish_speech_standin`` under uvicorn on a
free port with a random bearer key, waits until ``/v1/health`` answers, yields its base URL
and key, and stops it at the end of the session. ``run_fish_standin`` (deploy/stack.py)
starts extra ones with other options (a slow "model", a text limit) for the tests that need them.

``fish_stack`` (sqlite and postgres) runs a whole VoxQueue with ``VOXQ_TTS_ENGINE=fish_speech``:
the API and one TTS worker slot (one slot per Fish Speech server) as real processes, on a
private Redis server.

Enable with ``pytest_plugins = ["tests.plugins.fish_standin"]`` in the root conftest.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from deploy.stack import FishServer, free_port, run_fish_standin
from tests.plugins.tiers import starts_processes


@pytest.fixture(scope="session")
@starts_processes
def fish_server() -> Iterator[FishServer]:
    """A stand-in Fish Speech server with a bearer key, shared by the whole session."""
    try:
        with run_fish_standin(api_key=secrets.token_urlsafe(16)) as server:
            yield server
    except RuntimeError as exc:  # it did not start: say why, without a traceback into the launcher
        pytest.fail(str(exc), pytrace=False)


# --- whole VoxQueue stacks whose TTS pool is Fish Speech (the stand-in) -----------------------


@pytest.fixture(scope="session")
@starts_processes
def private_redis() -> Iterator[str]:
    """A Redis server of this session alone. Test sessions run side by side on one machine,
    and a worker of another session on the shared Redis would take (and drop) our jobs."""
    port = free_port()
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
