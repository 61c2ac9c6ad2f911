"""Real services for tests, as fixtures: fresh databases (SQLite and Postgres) and whole
VoxQueue stacks (API + Celery workers as separate processes) from `deploy/stack.py`."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from deploy.stack import Stack, claim_redis_db, fresh_pg_database, migrated, release_redis_db, sqlite_url, start_stack
from shared import redis as shared_redis
from shared.config import get_settings
from shared.jobs.celery_app import publisher
from tests.plugins.tiers import starts_processes


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, empty Postgres database for this test session."""
    with fresh_pg_database("voxq_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database of each kind; storage tests that take it run on both."""
    if request.param == "sqlite":
        return migrated(sqlite_url(tmp_path))
    return migrated(request.getfixturevalue("pg_database"))


NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens there


def point_redis_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """This process's Redis (the settings' URL, and the publishing app's broker) is `url`
    for the rest of the test. At NOWHERE, a client gives up at once instead of riding out a
    failover (shared/redis.py RETRIES): the test is about what happens once it has."""
    if url == NOWHERE:
        monkeypatch.setattr(shared_redis, "RETRIES", 0)
    monkeypatch.setattr(get_settings(), "redis_url", url)
    monkeypatch.setitem(publisher().conf, "broker_url", url)


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    """A Redis database of this test's own, which the queue client publishes to."""
    url = claim_redis_db()
    point_redis_at(monkeypatch, url)
    yield redis.Redis.from_url(url)
    release_redis_db(url)


def _sqlite_stack(tmp_path_factory: pytest.TempPathFactory, name: str, tts_workers: int) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp(name)
    stack = start_stack(folder, sqlite_url(folder), tts_workers=tts_workers)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
@starts_processes
def sqlite_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _sqlite_stack(tmp_path_factory, "stack-sqlite", tts_workers=2)


@pytest.fixture(scope="session")
@starts_processes
def postgres_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """On a database of its own: its dispatcher and reconciler run all session long, and would
    take the lines and webhooks that storage tests leave in the session's database."""
    with fresh_pg_database("voxq_stack") as url:
        stack = start_stack(tmp_path_factory.mktemp("stack-pg"), url, tts_workers=1)
        yield stack
        stack.stop()


@pytest.fixture(scope="session")
@starts_processes
def idle_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API with no worker: whatever is queued stays queued."""
    yield from _sqlite_stack(tmp_path_factory, "stack-idle", tts_workers=0)


@pytest.fixture(scope="session")
@starts_processes
def webhook_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API and one TTS worker slot that send webhooks to this machine without delay: private
    addresses allowed, a reconciler pass every half second, a failed webhook tried again after one."""
    folder = tmp_path_factory.mktemp("stack-webhooks")
    env = {"VOXQ_WEBHOOK_ALLOW_PRIVATE": "1", "VOXQ_RECONCILE_EVERY_S": "0.5", "VOXQ_WEBHOOK_BACKOFF_S": "1"}
    stack = start_stack(folder, sqlite_url(folder), tts_workers=1, **env)
    yield stack
    stack.stop()


@pytest.fixture(params=["sqlite", "postgres"])
@starts_processes
def stack(request: pytest.FixtureRequest) -> Stack:
    """The whole system on each database."""
    return request.getfixturevalue(f"{request.param}_stack")


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll until predicate() returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
