"""Faults in a fleet, and recovery with no manual step: worker hosts as network namespaces,
each with its Fish Speech stand-in ("GPU", latency mode) and one TTS worker slot, against an
API, a Redis and a Postgres of the test's own (deploy/fleet.py; needs root).

Each test submits a chapter, injects one fault about a third of the way through, and then
checks that every line succeeded exactly once (one job row and one snippet per line, none
missing, none running), that the chapter is as long as its lines and the pauses between
them, and prints how long the system took to finish after the fault.
"""

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import soundfile as sf

from deploy.fleet import Fleet, Host
from shared.config import get_settings
from tests.voice_factory import create_voice

LINES = 150
MS_PER_CHAR = 6.0  # about 80 ms a line on the stand-in "GPU": a batch of 150 takes ~6 s on 2 hosts
RECOVERY = {
    "VOXQ_LEASE_S": "4",
    "VOXQ_RECONCILE_EVERY_S": "1",
    "VOXQ_REQUEUE_AFTER_S": "3",
    "VOXQ_DB_RETRY_S": "30",
    "VOXQ_TASK_RETRY_BACKOFF_MAX_S": "2",
    "VOXQ_WORKER_SHUTDOWN_GRACE_S": "5",
    "VOXQ_TTS_ENGINE": "fish_speech",  # the API too: a cloned voice needs an engine that clones
}
PAUSE_S = get_settings().pause_between_chunks_ms * 2 / 1000  # between the lines of a chapter


@dataclass
class Run:
    """A fleet with two worker hosts, a tenant and its cloned voice."""

    fleet: Fleet
    api: httpx.Client
    voice: str
    hosts: list[Host] = field(default_factory=list)
    engines: dict[str, dict[str, str]] = field(default_factory=dict)  # each host's worker env for its stand-in
    statuses: list[int] = field(default_factory=list)  # every status the API answered while we polled
    recovered_s: float | None = None  # from the fault to the batch's end
    batch_id: str = ""  # the batch under test

    def add_host(self) -> Host:
        host = self.fleet.add_host()
        self.engines[host.name] = host.start_fish_standin(MS_PER_CHAR)
        host.start_worker("tts", **self.engines[host.name])
        self.hosts.append(host)
        return host

    def restart_workers(self, host: Host) -> None:
        host.start_worker("tts", **self.engines[host.name])

    def submit(self) -> str:
        script = "\n".join(f"第{i}行：今天的天气不错，我们出去走走吧。" for i in range(LINES)).encode()
        r = self.api.post("/v1/batches", files={"file": ("chapter.txt", script)}, data={"voice": self.voice})
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    def counts(self, batch_id: str) -> dict[str, int] | None:
        try:
            r = self.api.get(f"/v1/batches/{batch_id}")
        except httpx.TransportError:
            return None  # the API is down (the API fault)
        self.statuses.append(r.status_code)
        return r.json()["counts"] if r.status_code == 200 else None

    def wait_until(self, batch_id: str, done: Callable[[dict[str, int]], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            counts = self.counts(batch_id)
            if counts is not None and done(counts):
                return
            time.sleep(0.2)
        raise AssertionError(f"batch {batch_id}: not there after {timeout_s:.0f}s: {self.counts(batch_id)}")


@pytest.fixture
def run(tmp_path: Path, record_property: Callable[[str, object], None]) -> Iterator[Run]:
    with Fleet(tmp_path / "fleet", **RECOVERY) as fleet:
        key = fleet.new_key("audiobooks")
        fleet.start_api()
        with httpx.Client(base_url=fleet.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
            voice = create_voice(api, name="narrator")["id"]
            run = Run(fleet, api, voice)
            run.add_host()
            run.add_host()
            yield run
            if run.recovered_s is not None:
                record_property("recovered_s", round(run.recovered_s, 1))


def fault_mid_batch(run: Run, fault: Callable[[], None], timeout_s: float = 120) -> str:
    """Submit, inject `fault` when a third of the lines are done, wait for the end, check it;
    the time from the fault to the end goes in the test report (tests/fleet/conftest.py)."""
    batch_id = run.batch_id = run.submit()
    run.wait_until(batch_id, lambda c: c["succeeded"] >= LINES // 3, timeout_s=60)
    faulted = time.monotonic()
    fault()
    run.wait_until(batch_id, lambda c: c["succeeded"] + c["failed"] == LINES, timeout_s=timeout_s)
    run.recovered_s = time.monotonic() - faulted
    check_every_line_once(run, batch_id)
    return batch_id


def check_every_line_once(run: Run, batch_id: str) -> None:
    counts = run.counts(batch_id)
    assert counts == {"queued": 0, "running": 0, "succeeded": LINES, "failed": 0, "cancelled": 0}
    jobs = run.api.get(f"/v1/batches/{batch_id}/jobs", params={"limit": 1000}).json()
    assert [job["line"] for job in jobs] == list(range(1, LINES + 1))
    with psycopg.connect(run.fleet.postgres.url.replace("+psycopg", "")) as db:
        snippets, keys = db.execute("SELECT count(*), count(DISTINCT key) FROM snippets").fetchone()  # type: ignore[misc]
        rows = db.execute("SELECT count(*) FROM jobs WHERE batch_id = %s", (batch_id,)).fetchone()
    assert rows == (LINES,) and snippets == keys == LINES  # one result and one snippet per line
    audio = run.api.get(f"/v1/batches/{batch_id}/audio", params={"format": "wav"}, timeout=120)
    assert audio.status_code == 200, audio.text
    chapter_s = sf.info(io.BytesIO(audio.content)).duration
    lines_s = sum(job["result"]["duration_s"] for job in jobs)
    assert chapter_s == pytest.approx(lines_s + (LINES - 1) * PAUSE_S, abs=0.002 * LINES)


def worker_logs(run: Run) -> str:
    return "\n".join(path.read_text(errors="replace")[-2000:] for path in run.fleet.folder.glob("*-tts-*.log"))


def test_a_killed_worker_is_replaced_and_its_running_line_is_done_again(run: Run) -> None:
    host = run.hosts[0]

    def kill_and_replace() -> None:
        host.kill_workers()
        run.restart_workers(host)

    fault_mid_batch(run, kill_and_replace)


def test_both_workers_killed_and_replaced(run: Run) -> None:
    def kill_both() -> None:
        for host in run.hosts:
            host.kill_workers()
        for host in run.hosts:
            run.restart_workers(host)

    fault_mid_batch(run, kill_both)


def test_a_whole_host_lost_for_good(run: Run) -> None:
    fault_mid_batch(run, run.hosts[0].kill)


def test_a_host_cut_off_for_30s_then_back(run: Run) -> None:
    host = run.hosts[0]

    def partition() -> None:
        host.cut()
        time.sleep(30)
        host.mend()

    fault_mid_batch(run, partition)


@pytest.mark.parametrize("appendonly", [False, True], ids=["no-persistence", "aof"])
def test_redis_restarted(run: Run, appendonly: bool) -> None:
    run.fleet.redis.appendonly = appendonly
    if appendonly:  # start over with AOF on, before the batch
        run.fleet.redis.restart(down_s=0)

    fault_mid_batch(run, lambda: run.fleet.redis.restart(down_s=1))


def test_postgres_restarted_is_weathered_without_a_500(run: Run) -> None:
    def restart_postgres() -> None:
        run.fleet.postgres.stop("immediate")
        down = time.monotonic()
        while time.monotonic() - down < 5:  # what clients see during the outage
            run.counts(run.batch_id)
            time.sleep(0.2)
        run.fleet.postgres.start()

    fault_mid_batch(run, restart_postgres)

    assert 500 not in run.statuses
    assert 503 in run.statuses  # the outage was seen, and answered as one


def test_the_api_killed_and_restarted(run: Run) -> None:
    def restart_api() -> None:
        run.fleet.kill_api()
        time.sleep(2)
        run.fleet.start_api()

    fault_mid_batch(run, restart_api)


def test_a_worker_stopped_with_sigterm_finishes_or_gives_back_its_line(run: Run) -> None:
    host = run.hosts[0]

    def stop() -> None:
        for proc in [p for p in host.processes if "worker" in p.args]:  # type: ignore[operator]
            proc.terminate()
            proc.wait(timeout=30)
            host.processes.remove(proc)

    fault_mid_batch(run, stop)
    assert "Warm shutdown" in worker_logs(run) or "warm shutdown" in worker_logs(run)
