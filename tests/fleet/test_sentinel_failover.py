"""Redis that survives losing a server: a VoxQueue stack (the API and espeak TTS workers as
real processes, a fresh Postgres database) on a Redis primary and replica watched by three
Sentinels (deploy/sentinel.py), both Redis passwords set. The primary is killed with SIGKILL a
third of the way through a batch of 150 lines.

Checked: the Sentinels promote the replica; the batch completes with every line succeeded
exactly once (one job row and one snippet per line, none queued or running); a live line
(POST /v1/audio/speech, sent again until one answers) answers within LIVE_BOUND_S of the
kill; the API's Lua script (the rate limiter's) works on the promoted replica, whose script
cache started empty (redis-py loads it again on NOSCRIPT). The measured times are printed and
recorded (tests/fleet/conftest.py shows `recovered_s`).
"""

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from deploy.sentinel import SentinelRedis
from deploy.stack import Stack, fresh_pg_database, start_stack
from shared.redis import new_client, script
from tests.plugins.tiers import starts_processes

LINES = 150
LIVE_BOUND_S = 30.0  # a live line answers again within this of the kill (generous: measured 3-7 s)
FAILOVER_BOUND_S = 20.0  # down-after 1 s + election: measured ~2.5 s
BATCH_BOUND_S = 180.0
RECOVERY = {
    # The reconciler (in the API) sends again what the failover lost, soon (as tests/fleet/test_faults.py).
    "VOXQ_LEASE_S": "4",
    "VOXQ_RECONCILE_EVERY_S": "1",
    "VOXQ_REQUEUE_AFTER_S": "3",
    "VOXQ_DB_RETRY_S": "30",
    "VOXQ_TASK_RETRY_BACKOFF_MAX_S": "2",
    "VOXQ_WORKER_SHUTDOWN_GRACE_S": "5",
    # A live line whose message was lost answers 503 after this, and the probe sends another.
    "VOXQ_SPEECH_WAIT_S": "15",
    # High enough never to refuse, but on: every submission runs the rate limiter's Lua script.
    "VOXQ_RATE_LIMIT_PER_MIN": "100000",
}


@pytest.fixture
@starts_processes
def sentinel_redis(tmp_path: Path) -> Iterator[SentinelRedis]:
    with SentinelRedis(tmp_path / "redis", password="redis-pw", sentinel_password="sentinel-pw") as redis:
        yield redis


@pytest.fixture
def stack(tmp_path: Path, sentinel_redis: SentinelRedis) -> Iterator[Stack]:
    with fresh_pg_database("voxq_sentinel") as database_url:
        stack = start_stack(tmp_path / "stack", database_url, tts_workers=2, **sentinel_redis.env, **RECOVERY)
        try:
            yield stack
        finally:
            stack.stop()


@dataclass
class Watch:
    """The failover as a thread sees it: from the kill to the moment the Sentinels name a new
    primary that accepts writes."""

    redis: SentinelRedis
    killed_at: float
    switched_s: float | None = None
    new_primary: int | None = None
    error: str | None = None
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, name="failover-watch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.new_primary = self.redis.wait_for_failover(timeout_s=FAILOVER_BOUND_S + 30)
            self.switched_s = time.monotonic() - self.killed_at
        except RuntimeError as exc:
            self.error = str(exc)

    def join(self) -> None:
        self.thread.join(timeout=FAILOVER_BOUND_S + 40)


def submit(api: httpx.Client) -> str:
    lines = "\n".join(f"第{i}行：今天的天气不错，我们出去走走吧。" for i in range(LINES)).encode()
    r = api.post("/v1/batches", files={"file": ("chapter.txt", lines)}, data={"voice": "cmn"})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def counts(api: httpx.Client, batch_id: str) -> dict[str, int] | None:
    with contextlib.suppress(httpx.TransportError):
        r = api.get(f"/v1/batches/{batch_id}", timeout=30)
        if r.status_code == 200:
            return dict(r.json()["counts"])
    return None


def wait_until(
    api: httpx.Client, batch_id: str, done: Callable[[dict[str, int]], bool], timeout_s: float
) -> dict[str, int] | None:
    """The batch's counts once `done` holds; None after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = counts(api, batch_id)
        if seen is not None and done(seen):
            return seen
        time.sleep(0.2)
    return None


def speak(api: httpx.Client, text: str) -> httpx.Response:
    body = {"model": "tts-1", "input": text, "voice": "cmn", "response_format": "wav"}
    return api.post("/v1/audio/speech", json=body, timeout=60)


def first_live_answer(api: httpx.Client, since: float, give_up_s: float) -> tuple[float | None, list[str]]:
    """Send a new live line (a text not spoken before, so never from the cache) until one is
    answered with audio: the seconds from `since` to that answer, and each attempt's outcome."""
    outcomes: list[str] = []
    number = 0
    while time.monotonic() - since < give_up_s:
        number += 1
        sent = time.monotonic()
        try:
            r = speak(api, f"故障之后的第{number}句话。")
            outcomes.append(f"{r.status_code} in {time.monotonic() - sent:.1f}s")
            if r.status_code == 200 and r.content[:4] == b"RIFF":
                return time.monotonic() - since, outcomes
        except httpx.TransportError as exc:
            outcomes.append(f"{type(exc).__name__} in {time.monotonic() - sent:.1f}s")
        time.sleep(0.2)
    return None, outcomes


def diagnosis(stack: Stack, database_url: str, batch_id: str) -> str:
    """What a failed run left: the batch's unfinished jobs and what the reconciler said."""
    with psycopg.connect(database_url.replace("+psycopg", "")) as db:
        left = db.execute(
            "SELECT line, status, attempts, started_at FROM jobs WHERE batch_id = %s AND status <> 'succeeded' "
            "ORDER BY line",
            (batch_id,),
        ).fetchall()
    api_log = (stack.data_dir / "api.log").read_text(errors="replace")
    said = [line for line in api_log.splitlines() if re.search(r"reconcil|sent again|lease|message lost", line, re.I)]
    workers = "\n".join(p.read_text(errors="replace")[-1500:] for p in stack.data_dir.glob("worker-*.log"))
    return (
        f"unfinished jobs (line, status, attempts, started_at): {left}\n"
        f"reconciler in the API log (last 30):\n" + "\n".join(said[-30:]) + f"\nworker logs (tails):\n{workers}"
    )


def test_the_redis_primary_killed_mid_batch_fails_over_and_every_line_is_done_once(
    stack: Stack, sentinel_redis: SentinelRedis, record_property: Callable[[str, object], None]
) -> None:
    redis = sentinel_redis
    database_url = stack.env["VOXQ_DATABASE_URL"]
    gcra_sha = script("gcra", new_client(redis.url, redis.master_name, redis.sentinel_password)).sha
    replica = next(node.port for node in redis.redis_nodes if node.port != redis.primary())

    with stack.client() as api:
        assert speak(api, "故障之前的一句话。").status_code == 200  # the stack works, and has loaded its script
        batch_id = submit(api)
        # The script cache is not replicated: the replica that will be promoted lacks it.
        assert redis.direct(redis.primary()).script_exists(gcra_sha) == [True]
        assert redis.direct(replica).script_exists(gcra_sha) == [False]

        before = wait_until(api, batch_id, lambda c: c["succeeded"] >= LINES // 3, timeout_s=120)
        assert before is not None, counts(api, batch_id)
        killed_at = redis.kill_primary()
        watch = Watch(redis, killed_at)

        live_s, attempts = first_live_answer(api, killed_at, give_up_s=LIVE_BOUND_S + 60)
        watch.join()
        done = wait_until(api, batch_id, lambda c: c["succeeded"] + c["failed"] == LINES, timeout_s=BATCH_BOUND_S)
        batch_s = time.monotonic() - killed_at

        record_property(
            "measured",
            f"{before['succeeded']}/{LINES} lines done at the kill; live-line attempts {attempts}; batch ended "
            f"{round(batch_s, 1) if done else None}s after the kill (counts {done or counts(api, batch_id)})",
        )
        record_property("failover_s", watch.switched_s and round(watch.switched_s, 2))
        record_property("live_line_s", live_s and round(live_s, 2))

        assert watch.error is None and watch.new_primary == replica, watch.error
        assert watch.switched_s is not None and watch.switched_s < FAILOVER_BOUND_S
        assert live_s is not None and live_s < LIVE_BOUND_S, attempts
        # The API ran the rate limiter's script on the promoted replica: loaded again on NOSCRIPT.
        assert redis.direct(replica).script_exists(gcra_sha) == [True]
        assert done is not None, diagnosis(stack, database_url, batch_id)
        record_property("recovered_s", round(batch_s, 1))

        assert done == {"queued": 0, "running": 0, "succeeded": LINES, "failed": 0, "cancelled": 0}
        jobs = api.get(f"/v1/batches/{batch_id}/jobs", params={"limit": 1000}).json()
        assert [job["line"] for job in jobs] == list(range(1, LINES + 1))

    with psycopg.connect(database_url.replace("+psycopg", "")) as db:
        rows, lines, succeeded, ran_again = db.execute(
            "SELECT count(*), count(DISTINCT line), count(*) FILTER (WHERE status = 'succeeded'), "
            "count(*) FILTER (WHERE attempts > 1) FROM jobs WHERE batch_id = %s",
            (batch_id,),
        ).fetchone()  # type: ignore[misc]
        snippets, keys = db.execute(
            "SELECT count(*), count(DISTINCT key) FROM snippets "
            "WHERE key IN (SELECT snippet_key FROM jobs WHERE batch_id = %s)",
            (batch_id,),
        ).fetchone()  # type: ignore[misc]
    record_property("measured", f"jobs of the batch started more than once (a message delivered again): {ran_again}")
    assert rows == lines == succeeded == LINES  # one job row per line, each succeeded
    assert snippets == keys == LINES  # one snippet per line's key
