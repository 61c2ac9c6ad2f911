"""Limits between tenants: a rate limit per API key on submissions, and daily quotas per tenant
(characters to synthesise, LLM jobs), counted in Redis. Over either is a 429 with Retry-After,
and nothing of the refused submission is stored."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from deploy.stack import REPO, Stack, free_port, spawn
from shared.config import get_settings
from shared.db import session_scope
from shared.jobs import submit
from shared.jobs.contracts import SynthesisInput
from shared.jobs.state import NewJob
from shared.models import Batch, Job, JobKind, Tenant
from shared.tenants import quota
from shared.tenants.auth import create_key
from tests.plugins.tiers import starts_processes

# Ten characters each, none a digit (which would be spoken as longer words), none repeated.
LINES = [
    "春眠不觉晓处处闻啼鸟",
    "夜来风雨声花落知多少",
    "床前明月光疑是地上霜",
    "举头望明月低头思故乡",
    "白日依山尽黄河入海流",
    "欲穷千里目更上一层楼",
    "红豆生南国春来发几枝",
    "愿君多采撷此物最相思",
]

# Every route that creates jobs or batches, by method and path.
SUBMITTING = {
    ("POST", "/v1/synthesize"),
    ("POST", "/v1/audio/speech"),
    ("POST", "/v1/generate"),
    ("POST", "/v1/generate/batch"),
    ("POST", "/v1/dialect"),
    ("POST", "/v1/dialect/batch"),
    ("POST", "/v1/batches"),
    ("POST", "/v1/snippets/precompute"),
}


@pytest.fixture
def counters(broker: redis.Redis) -> redis.Redis:
    """The Redis database of this test's own that the API counts in (the broker's)."""
    return broker


class NewTenant(NamedTuple):
    id: str
    name: str
    key: str


@pytest.fixture
def tenant(inproc_key: str) -> NewTenant:
    """A new tenant of the in-process API's database (migrated by `inproc_key`), with an API key."""
    name = f"limits-{uuid.uuid4().hex[:8]}"
    with session_scope() as session:
        key = create_key(session, name)
        session.flush()
        return NewTenant(quota.find_tenant(session, name).id, name, key)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def stored() -> tuple[int, int]:
    with session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(Job)) or 0,
            session.scalar(select(func.count()).select_from(Batch)) or 0,
        )


def error_of(response: httpx.Response) -> tuple[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]["type"], body["error"]["message"]


def script(*lines: str) -> dict[str, tuple[str, bytes]]:
    return {"file": ("script.txt", "\n".join(lines).encode())}


# --- the rate limit ----------------------------------------------------------------------


def test_a_key_over_its_rate_limit_gets_429_with_retry_after_and_nothing_is_stored(
    client: TestClient, counters: redis.Redis, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "rate_limit_per_min", 3)
    key = tenant.key

    passed = [client.post("/v1/dialect", json={"text": "侬好"}, headers=bearer(key)) for _ in range(3)]
    before = stored()
    refused = client.post("/v1/dialect", json={"text": "侬好"}, headers=bearer(key))

    assert [r.status_code for r in passed] == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 20  # the next of 3 a minute is due in 20 s
    kind, message = error_of(refused)
    assert kind == "rate_limited" and "3 submissions a minute per API key" in message
    assert stored() == before


def test_the_rate_limit_is_per_key_and_only_on_submissions(
    client: TestClient, counters: redis.Redis, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "rate_limit_per_min", 1)
    key = tenant.key
    job = client.post("/v1/dialect", json={"text": "侬好"}, headers=bearer(key)).json()

    assert client.post("/v1/dialect/batch", json={"items": [{"text": "侬好"}]}, headers=bearer(key)).status_code == 429
    assert client.get(f"/v1/jobs/{job['id']}", headers=bearer(key)).status_code == 200  # reading is not limited
    assert client.post("/v1/dialect", json={"text": "侬好"}).status_code == 200  # another key has its own


def test_every_route_that_creates_jobs_or_batches_is_rate_limited(
    client: TestClient, counters: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "rate_limit_per_min", 1)

    def second_answer(method: str, path: str) -> int:
        """The status of a second request within the minute; the limit is checked before the
        body, so an empty one serves (the first is a 4xx about it, and counted)."""
        counters.flushdb()
        client.request(method, path, json={})
        return client.request(method, path, json={}).status_code

    assert {route: second_answer(*route) for route in SUBMITTING} == dict.fromkeys(SUBMITTING, 429)
    assert second_answer("POST", "/v1/voices") == 422
    assert second_answer("GET", "/v1/jobs/job_x") == 404


def test_downloads_of_a_batchs_audio_are_limited_per_key_and_seeking_is_not_counted(
    client: TestClient, counters: redis.Redis, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "download_limit_per_min", 2)
    key = tenant.key
    batch = client.post("/v1/batches", files=script("一句还在排队的话。"), data={"voice": "cmn"}, headers=bearer(key))
    audio = f"/v1/batches/{batch.json()['id']}/audio"

    counted = [client.get(audio, params={"output": "m4b"}, headers=bearer(key)).status_code for _ in range(2)]
    seeking = client.get(audio, headers=bearer(key) | {"Range": "bytes=65536-"})
    refused = client.get(audio, params={"output": "zip"}, headers=bearer(key))

    assert counted == [409, 409] and seeking.status_code == 409  # not finished: answered, and counted
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    kind, message = error_of(refused)
    assert kind == "rate_limited" and "2 downloads a minute per API key" in message
    assert client.get(audio).status_code == 404  # another key: its own count (and not its batch)


def test_a_tenant_holds_at_most_its_number_of_voices(
    client: TestClient, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.voice_factory import TRANSCRIPT, speech_clip

    monkeypatch.setattr(get_settings(), "max_voices_per_tenant", 1)
    upload = {"audio": ("reference.wav", speech_clip(), "audio/wav")}
    first = client.post("/v1/voices", files=upload, data={"transcript": TRANSCRIPT}, headers=bearer(tenant.key))
    second = client.post("/v1/voices", files=upload, data={"transcript": TRANSCRIPT}, headers=bearer(tenant.key))

    assert first.status_code == 201, first.text
    assert second.status_code == 409
    kind, message = error_of(second)
    assert kind == "at_capacity" and "1 voices" in message
    assert len(client.get("/v1/voices", headers=bearer(tenant.key)).json()) == 1


# --- daily quotas --------------------------------------------------------------------------


def test_an_upload_over_the_synthesis_quota_is_refused_whole_saying_what_is_left(
    client: TestClient, counters: redis.Redis, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "daily_synth_chars", 25)
    tenant_id, key = tenant.id, tenant.key
    first = client.post("/v1/synthesize", json={"text": LINES[0], "voice": "cmn"}, headers=bearer(key))
    assert first.status_code == 202, first.text
    before = stored()

    refused = client.post("/v1/batches", files=script(*LINES[1:3]), data={"voice": "cmn"}, headers=bearer(key))

    assert refused.status_code == 429
    kind, message = error_of(refused)
    assert kind == "quota_exceeded"
    assert "daily synthesis quota: 15 characters left, this batch needs 20" in message, message
    assert abs(int(refused.headers["Retry-After"]) - quota.seconds_to_next_day()) <= 2
    assert stored() == before  # no batch, no job
    assert int(counters.get(quota.counter_key(tenant_id, quota.SYNTH_CHARS, quota.today())) or 0) == 10
    # What fits still passes, to the last character.
    fits = client.post("/v1/batches", files=script(LINES[1][:5], LINES[2]), data={"voice": "cmn"}, headers=bearer(key))
    assert fits.status_code == 202, fits.text
    r = client.post("/v1/synthesize", json={"text": "好", "voice": "cmn"}, headers=bearer(key))
    assert r.status_code == 429 and "0 characters left, this request needs 1" in error_of(r)[1]


def test_the_llm_quota_counts_jobs_sent_to_the_llm_and_not_those_the_cpu_answers(
    client: TestClient, counters: redis.Redis, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "daily_llm_jobs", 2)
    key = tenant.key
    items = {"items": [{"text": "侬好"}, {"text": "你好"}, {"text": "佢好"}]}
    assert client.post("/v1/dialect/batch", json=items, headers=bearer(key)).status_code == 202  # CPU: free

    monkeypatch.setattr(get_settings(), "llm_url", "http://127.0.0.1:9/v1")  # queued for the LLM pool, never asked
    before = stored()
    refused = client.post("/v1/dialect/batch", json=items, headers=bearer(key))
    assert refused.status_code == 429
    assert "daily LLM job quota: 2 jobs left, this batch needs 3" in error_of(refused)[1]
    assert stored() == before

    assert client.post("/v1/generate", json={"input": "你好"}, headers=bearer(key)).status_code == 202
    assert client.post("/v1/dialect", json={"text": "侬好"}, headers=bearer(key)).status_code == 202
    r = client.post("/v1/generate/batch", json={"items": [{"input": "再见"}]}, headers=bearer(key))
    assert r.status_code == 429 and "0 jobs left, this batch needs 1" in error_of(r)[1]


def test_a_submission_that_fails_to_be_stored_gives_its_reservation_back(
    counters: redis.Redis, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "daily_synth_chars", 100)
    tenant_id = tenant.id
    text = SynthesisInput(text=LINES[0], voice="cmn")
    twice = [NewJob(JobKind.synthesis, text, 1, id="job_twice"), NewJob(JobKind.synthesis, text, 2, id="job_twice")]

    with pytest.raises(IntegrityError), session_scope() as session:
        submit.create_batch(session, tenant_id, JobKind.synthesis, twice, options={})

    assert int(counters.get(quota.counter_key(tenant_id, quota.SYNTH_CHARS, quota.today())) or 0) == 0
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Batch).where(Batch.tenant_id == tenant_id)) == 0


def test_a_days_counter_is_named_by_its_utc_date_and_expires_after_it(
    client: TestClient, counters: redis.Redis, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "daily_synth_chars", 1000)
    tenant_id, key = tenant.id, tenant.key

    assert client.post("/v1/synthesize", json={"text": LINES[0], "voice": "cmn"}, headers=bearer(key)).is_success

    today = datetime.now(UTC).date().isoformat()
    assert [k.decode() for k in counters.keys("voxq:quota:*")] == [f"voxq:quota:{tenant_id}:synth_chars:{today}"]
    ttl = counters.ttl(f"voxq:quota:{tenant_id}:synth_chars:{today}")
    assert quota.seconds_to_next_day() - 5 <= ttl - quota.KEEP_AFTER_DAY_S <= quota.seconds_to_next_day()
    # The next day counts from zero, on a key of its own.
    assert quota.seconds_to_next_day(datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC)) == 30
    assert quota.counter_key(tenant_id, quota.SYNTH_CHARS, datetime(2026, 3, 2, tzinfo=UTC).date()).endswith(
        ":synth_chars:2026-03-02"
    )


# --- a tenant's own quotas, set with `voxq keys limits` ---------------------------------------


def keys_limits(*args: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    """`voxq keys limits` on the in-process API's database (this session's VOXQ_DATA_DIR)."""
    env = os.environ | {"VOXQ_REDIS_URL": redis_url, "COLUMNS": "200"}
    argv = [sys.executable, "-m", "cli", "keys", "limits", *args]
    return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_a_tenants_own_quota_set_with_the_cli_overrides_the_deployments(
    client: TestClient, counters: redis.Redis, tenant: NewTenant
) -> None:
    name, key = tenant.name, tenant.key
    redis_url = get_settings().redis_url  # the `counters` fixture's database

    set_ = keys_limits("--tenant", name, "--daily-synth-chars", "12", "--daily-llm-jobs", "0", redis_url=redis_url)
    assert set_.returncode == 0, set_.stderr
    assert client.post("/v1/synthesize", json={"text": LINES[0], "voice": "cmn"}, headers=bearer(key)).is_success
    refused = client.post("/v1/synthesize", json={"text": LINES[1], "voice": "cmn"}, headers=bearer(key))
    assert refused.status_code == 429 and "2 characters left, this request needs 10" in error_of(refused)[1]

    shown = keys_limits("--tenant", name, redis_url=redis_url)
    assert shown.returncode == 0, shown.stderr
    assert "characters to synthesise: 12 (its own); used today: 10" in shown.stdout
    assert "LLM jobs: no limit (its own); used today: 0" in shown.stdout

    reset = keys_limits("--tenant", name, "--reset", redis_url=redis_url)
    assert "characters to synthesise: no limit (the deployment's)" in reset.stdout
    assert client.post("/v1/synthesize", json={"text": LINES[1], "voice": "cmn"}, headers=bearer(key)).is_success

    unknown = keys_limits("--tenant", "nobody-at-all", redis_url=redis_url)
    assert unknown.returncode == 2 and "no tenant 'nobody-at-all'" in unknown.stderr


def test_a_tenants_weight_is_set_with_the_cli_and_read_by_the_dispatcher(
    counters: redis.Redis, tenant: NewTenant
) -> None:
    redis_url = get_settings().redis_url

    heavier = keys_limits("--tenant", tenant.name, "--weight", "2.5", redis_url=redis_url)
    with session_scope() as session:
        stored = session.scalars(select(Tenant.weight).where(Tenant.name == tenant.name)).one()
    reset = keys_limits("--tenant", tenant.name, "--reset", redis_url=redis_url)
    nothing = keys_limits("--tenant", tenant.name, "--weight", "0", redis_url=redis_url)

    assert heavier.returncode == 0 and "weight 2.5" in heavier.stdout and stored == 2.5
    assert "weight 1 " in reset.stdout
    assert nothing.returncode == 2  # a tenant of no weight would never get a line


# --- across API processes ---------------------------------------------------------------------


@pytest.fixture(scope="module")
@starts_processes
def two_apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, list[str]]]:
    """Two API processes on one database and one Redis (no worker: what is queued stays queued),
    with a rate limit of 10 submissions a minute and 30 characters to synthesise a day."""
    # Imported here: a module that names the stack launcher is put in the slow tier whole
    # (tests/conftest.py), and only the tests that take this fixture start processes.
    from deploy.stack import sqlite_url, start_stack

    folder = tmp_path_factory.mktemp("two-apis")
    limits = {"VOXQ_RATE_LIMIT_PER_MIN": "10", "VOXQ_DAILY_SYNTH_CHARS": "30"}
    stack = start_stack(folder, sqlite_url(folder), tts_workers=0, **limits)
    port = free_port()
    stack.processes.append(spawn(["api", "--port", str(port)], stack.env, folder / "api-2.log"))
    second = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{second}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"the second API did not start:\n{(folder / 'api-2.log').read_text()[-3000:]}")
        yield stack, [stack.api_url, second]
    finally:
        stack.stop()


def test_the_rate_limit_holds_across_api_processes(two_apis: tuple[Stack, list[str]]) -> None:
    stack, urls = two_apis
    headers = bearer(stack.new_key("rate-across"))

    statuses = [
        httpx.post(f"{urls[n % 2]}/v1/dialect", json={"text": "侬好"}, headers=headers, timeout=30).status_code
        for n in range(11)
    ]

    assert statuses == [200] * 10 + [429]  # ten a minute in all, five on each process


def test_the_quota_holds_across_api_processes_under_concurrent_submissions(
    two_apis: tuple[Stack, list[str]], tmp_path: Path
) -> None:
    stack, urls = two_apis
    key = stack.new_key("quota-across")

    def post(n: int) -> httpx.Response:
        body = {"text": LINES[n], "voice": "cmn"}
        return httpx.post(f"{urls[n % 2]}/v1/synthesize", json=body, headers=bearer(key), timeout=30)

    with ThreadPoolExecutor(len(LINES)) as pool:
        answers = list(pool.map(post, range(len(LINES))))

    assert sorted(r.status_code for r in answers) == [202] * 3 + [429] * 5  # 30 characters: three lines of ten
    refused = [r.json()["error"]["message"] for r in answers if r.status_code == 429]
    assert all("daily synthesis quota: 0 characters left, this request needs 10" in m for m in refused), refused
    # The CLI says so, and exits 1: the same command may pass another day.
    lines = tmp_path / "more.txt"
    lines.write_text(LINES[0] + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "cli", "submit", str(lines), "--voice", "cmn", "--no-wait"],
        env=stack.env | {"VOXQ_API_KEY": key, "COLUMNS": "200"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done
    assert "429 over a limit: daily synthesis quota" in done.stderr and "try again in" in done.stderr, done.stderr
