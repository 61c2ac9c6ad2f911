"""deploy/compose.yaml run for real: the file users run, with the compose.test.yaml override
(images built here from Debian, the Fish Speech stand-in as the fish-speech server, no GPU
reservations; see deploy/compose-test.sh), on a Docker daemon that deploy/docker-setup.sh
installs and starts. Needs root, as CI has.

A chapter goes through the published API port while the TTS workers are scaled from one to
three and one of them is killed mid-batch; every line must then be done exactly once, and the
chapter's M4B is built by the media worker (the TTS workers, on Fish Speech, never take books).
Flower, /metrics and Redis must refuse requests without credentials. The times to a healthy stack and to the
batch's end are printed at the end of the run (tests/deploy/conftest.py).
"""

import os
import secrets
import subprocess
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.plugins.tiers import starts_processes
from tests.voice_factory import create_voice, speech_clip

pytestmark = pytest.mark.timeout(900)  # a cold machine installs Docker and builds every image first

REPO = Path(__file__).resolve().parents[2]
COMPOSE = str(REPO / "deploy" / "compose-test.sh")
LOGS = REPO / "var" / "docker" / "compose-test.log"  # every service's log, kept after the run
LINES = 60
# Published on loopback only, never on the machine's own 6379/5432 (Redis and Postgres are
# not published at all); override when these ports are taken.
API_PORT = int(os.environ.get("VOXQ_TEST_API_PORT", "18000"))
FLOWER_PORT = int(os.environ.get("VOXQ_TEST_FLOWER_PORT", "15555"))
SECRETS = {
    "VOXQ_REDIS_PASSWORD": secrets.token_hex(16),  # made for the run; it goes into URLs, hence hex
    "VOXQ_REDIS_WORKER_PASSWORD": secrets.token_hex(16),
    "VOXQ_POSTGRES_PASSWORD": "compose-test-pg",
    "VOXQ_FLOWER_PASSWORD": "compose-test-flower",
    "VOXQ_METRICS_TOKEN": "compose-test-metrics",
}


@dataclass
class ComposeStack:
    """The test stack, driven through deploy/compose-test.sh and the published ports."""

    env: dict[str, str]
    times: dict[str, float] = field(default_factory=dict)  # seconds of the set-up, the build, to healthy

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{API_PORT}"

    @property
    def flower_url(self) -> str:
        return f"http://127.0.0.1:{FLOWER_PORT}"

    def compose(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [COMPOSE, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode:
            raise RuntimeError(f"compose {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return result.stdout

    def containers(self, service: str | None = None) -> list[str]:
        return self.compose("ps", "-q", *([service] if service else [])).split()

    def states(self) -> dict[str, str]:
        """Each container's health where it has a check, else its state (running, exited 0...)."""
        fmt = (
            "{{.Name}} {{if .State.Health}}{{.State.Health.Status}}"
            "{{else if .State.Running}}running{{else}}exited-{{.State.ExitCode}}{{end}}"
        )
        out = subprocess.run(
            ["docker", "inspect", "--format", fmt, *self.containers()], capture_output=True, text=True, check=True
        ).stdout
        return dict(line.split() for line in out.splitlines())

    def wait_healthy(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = self.states()
            if all(state in ("healthy", "running", "exited-0") for state in states.values()):
                return
            time.sleep(0.5)
        raise RuntimeError(f"stack not healthy after {timeout_s:.0f}s: {states}")

    def rows(self, sql: str) -> list[list[str]]:
        """What `sql` selects, read with psql inside the postgres container."""
        out = self.compose("exec", "-T", "postgres", "psql", "-U", "voxq", "-d", "voxq", "-Atc", sql)
        return [line.split("|") for line in out.splitlines()]

    def numbers(self, sql: str) -> list[int]:
        return [int(value) for value in self.rows(sql)[0]]

    def new_key(self, tenant: str) -> str:
        return self.compose("exec", "-T", "api", "voxq", "keys", "create", "--tenant", tenant).split()[-1]


@pytest.fixture(scope="module")
@starts_processes
def compose_stack() -> Iterator[ComposeStack]:
    """Docker set up, the images built, the stack up and healthy; `down -v` at the end, always."""
    if os.geteuid() != 0:
        pytest.fail("the compose test needs root: it installs and starts Docker (CI runs as root)")
    env = os.environ | SECRETS
    env |= {"VOXQ_API_PUBLISH": f"127.0.0.1:{API_PORT}", "VOXQ_FLOWER_PUBLISH": f"127.0.0.1:{FLOWER_PORT}"}
    stack = ComposeStack(env)
    started = time.monotonic()
    subprocess.run(["bash", str(REPO / "deploy" / "docker-setup.sh")], check=True, timeout=900)
    stack.times["setup"] = time.monotonic() - started
    try:
        stack.compose("down", "-v", "--remove-orphans")  # what a crashed run may have left
        started = time.monotonic()
        stack.compose("build")
        stack.times["build"] = time.monotonic() - started
        started = time.monotonic()
        stack.compose("up", "-d")
        stack.wait_healthy()
        stack.times["healthy"] = time.monotonic() - started
        yield stack
    finally:
        try:
            LOGS.write_text(stack.compose("logs", "--no-color", "--timestamps"))
        finally:
            stack.compose("down", "-v", "--remove-orphans")


def wait_for(api: httpx.Client, batch_id: str, lines_done: int, timeout_s: float) -> dict[str, int]:
    """The batch's counts once `lines_done` of its lines have ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = api.get(f"/v1/batches/{batch_id}").raise_for_status().json()["counts"]
        if counts["succeeded"] + counts["failed"] >= lines_done:
            return counts
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id}: {counts} after {timeout_s:.0f}s (logs: {LOGS})")


def busy_worker(
    stack: ComposeStack, batch_id: str, skip: Collection[str] = (), timeout_s: float = 30
) -> tuple[str, list[str]]:
    """A TTS worker container, not one of `skip`, that is speaking lines of the batch right now,
    and those lines' job ids (a worker's node name ends with its container's host name, the
    container id's first 12 digits)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = stack.rows(f"SELECT id, worker FROM jobs WHERE batch_id = '{batch_id}' AND status = 'running'")
        for container in [c for c in stack.containers("tts-worker") if c not in skip]:
            held = [job_id for job_id, worker in running if worker.rpartition("@")[2] == container[:12]]
            if held:
                return container, held
        time.sleep(0.1)
    raise AssertionError(f"no TTS worker was running a line of batch {batch_id} for {timeout_s:.0f}s")


def kill_mid_line(stack: ComposeStack, api: httpx.Client, batch_id: str) -> list[str]:
    """Kill a TTS worker container while it speaks a line; the ids of the lines it took with it.
    Reading who runs what goes through psql in a container and takes a moment, so a line
    may be done by the time of the kill: then another worker is tried."""
    last: list[str] = []  # restarting (restart: unless-stopped), its lines still shown running
    for _ in range(6):  # a killed worker comes back, and may be the victim again later
        victim, held = busy_worker(stack, batch_id, skip=last)
        last = [victim]
        if subprocess.run(["docker", "kill", victim], capture_output=True).returncode != 0:
            continue  # it stopped between the look and the kill (done, or restarting): another one
        # A killed worker records nothing more: a line of it still running now was lost with it.
        lost = [job_id for job_id in held if api.get(f"/v1/jobs/{job_id}").json()["status"] == "running"]
        if lost:
            return lost
    raise AssertionError("every line the killed workers held was done before the kill")


def built_book(stack: ComposeStack, api: httpx.Client, batch_id: str, timeout_s: float = 120) -> tuple[bytes, str]:
    """The batch's M4B and the container that built it: the first request answers 202 with the
    book job, later ones the stored file once the job has built it."""
    r = api.get(f"/v1/batches/{batch_id}/audio", params={"output": "m4b"})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}").raise_for_status().json()
        assert job["status"] != "failed", job
        if job["status"] == "succeeded":
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"book job {job_id} of batch {batch_id} not done after {timeout_s:.0f}s (logs: {LOGS})")
    r = api.get(f"/v1/batches/{batch_id}/audio", params={"output": "m4b"}, timeout=120)
    assert r.status_code == 200, r.text
    (worker,) = stack.rows(f"SELECT worker FROM jobs WHERE id = '{job_id}'")[0]
    return r.content, worker.rpartition("@")[2]


def test_a_chapter_survives_scaling_and_a_killed_worker(
    compose_stack: ComposeStack, record_property: Callable[[str, object], None]
) -> None:
    stack = compose_stack
    for name, seconds in stack.times.items():
        record_property(f"compose_{name}_s", round(seconds, 1))
    key = stack.new_key("compose-test")
    with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as api:
        voice = create_voice(api, speech_clip())["id"]  # a Fish Speech worker speaks cloned voices only
        # About 1.5 s a line at the stand-in's 40 ms a character: long enough that the worker
        # found speaking one (a query through psql in a container) is still at it when killed.
        script = "\n".join(
            f"第{i}行：今天的天气不错，我们出去走走吧，看看公园里的花开了没有。" for i in range(LINES)
        ).encode()
        started = time.monotonic()
        r = api.post("/v1/batches", files={"file": ("chapter.txt", script)}, data={"voice": voice})
        assert r.status_code == 202, r.text
        batch_id = r.json()["id"]

        stack.compose("up", "-d", "--scale", "tts-worker=3", "--no-recreate")
        assert len(stack.containers("tts-worker")) == 3
        wait_for(api, batch_id, LINES // 3, timeout_s=120)
        lost = kill_mid_line(stack, api, batch_id)
        at_kill = api.get(f"/v1/batches/{batch_id}").json()["counts"]
        assert at_kill["succeeded"] < LINES, "the batch ended before the kill"
        counts = wait_for(api, batch_id, LINES, timeout_s=240)
        record_property("compose_done_s", round(time.monotonic() - started, 1))

        assert counts == {"queued": 0, "running": 0, "succeeded": LINES, "failed": 0, "cancelled": 0}
        jobs = api.get(f"/v1/batches/{batch_id}/jobs", params={"limit": 1000}).json()
        assert [job["line"] for job in jobs] == list(range(1, LINES + 1))
        of_batch = f"FROM jobs WHERE batch_id = '{batch_id}'"
        assert stack.numbers(f"SELECT count(*), count(DISTINCT line) {of_batch}") == [LINES, LINES]  # no duplicates
        assert stack.numbers("SELECT count(*), count(DISTINCT key) FROM snippets") == [LINES, LINES]  # a result a line
        redone = api.get(f"/v1/jobs/{lost[0]}").json()
        assert redone["status"] == "succeeded" and redone["attempts"] > 1  # the killed worker's line, done again
        audio = api.get(f"/v1/batches/{batch_id}/audio", params={"format": "wav"}, timeout=120)
        assert audio.status_code == 200, audio.text
        m4b, host = built_book(stack, api, batch_id)
        assert m4b[4:8] == b"ftyp"  # an MP4 file's first box
        assert host in [container[:12] for container in stack.containers("media-worker")]

    with httpx.Client(timeout=30) as anyone:
        assert anyone.get(f"{stack.flower_url}/").status_code == 401
        auth = ("admin", SECRETS["VOXQ_FLOWER_PASSWORD"])
        assert anyone.get(f"{stack.flower_url}/", auth=auth).status_code == 200
        assert anyone.get(f"{stack.api_url}/metrics").status_code == 401
        bearer = {"Authorization": f"Bearer {SECRETS['VOXQ_METRICS_TOKEN']}"}
        assert anyone.get(f"{stack.api_url}/metrics", headers=bearer).status_code == 200
    # Redis asks every client for its password (requirepass): redis-cli without REDISCLI_AUTH is
    # refused (it exits 0 on an error reply, so the reply is what tells).
    assert "NOAUTH" in stack.compose("exec", "-T", "redis", "env", "-u", "REDISCLI_AUTH", "redis-cli", "ping")
    assert "PONG" in stack.compose("exec", "-T", "redis", "redis-cli", "ping")
    # The workers, which did the whole chapter as `voxq-worker`, may not run Redis's dangerous
    # commands: a worker host cannot wipe the queues or reconfigure the server.
    as_worker = ("env", f"REDISCLI_AUTH={SECRETS['VOXQ_REDIS_WORKER_PASSWORD']}", "redis-cli", "--user", "voxq-worker")
    assert "NOPERM" in stack.compose("exec", "-T", "redis", *as_worker, "flushall")
    assert "NOPERM" in stack.compose("exec", "-T", "redis", *as_worker, "config", "set", "appendonly", "no")
