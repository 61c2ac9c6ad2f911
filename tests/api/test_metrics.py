"""GET /metrics: who may read it, and that it shows the deployment's figures as they are
(the queues in Redis, the jobs in the database, what workers recorded in Redis)."""

import json
import re
import uuid
from datetime import timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from deploy.stack import REPO
from shared import metrics
from shared.audio.snippets import NewSnippet, store_snippet
from shared.config import get_settings
from shared.db import session_scope
from shared.errors import PermanentEngineError, RetryableEngineError
from shared.jobs import lanes
from shared.jobs.contracts import ScriptLine
from shared.jobs.reconcile import reconcile_once
from shared.jobs.synthesis import synthesis_jobs
from shared.models import Job, JobKind, utcnow
from shared.tenants.auth import tenant_for_key
from tests.plugins.services import NOWHERE, point_redis_at
from tests.scrape import exposed_names, samples, value
from workers import metrics as worker_metrics

TOKEN = "prometheus-" + uuid.uuid4().hex


@pytest.fixture(autouse=True)
def no_metrics_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys read /metrics here, whatever the environment sets; a test sets its token itself.
    The jobs are counted at every scrape, unless a test keeps the count."""
    monkeypatch.setattr(get_settings(), "metrics_token", None)
    monkeypatch.setattr(get_settings(), "metrics_jobs_every_s", 0.0)


@pytest.fixture
def client(client: TestClient, local_key: str) -> TestClient:
    """The in-process API with the operator's key (the local tenant's), which reads /metrics
    when no token is set."""
    client.headers["Authorization"] = f"Bearer {local_key}"
    return client


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    return samples(r.text)


def a_new_text() -> str:
    """A text no earlier test has spoken or cached."""
    return f"指标测试，编号{uuid.uuid4().hex[:8]}。"


# --- who may read it --------------------------------------------------------------------


def test_without_credentials_it_is_401_with_a_json_error(client: TestClient) -> None:
    del client.headers["Authorization"]
    r = client.get("/metrics")

    assert r.status_code == 401
    assert r.json()["error"]["type"] == "unauthorized"


def test_without_a_token_set_the_local_tenants_key_reads_them_and_no_other_tenants(
    client: TestClient, inproc_key: str
) -> None:
    r = client.get("/metrics")
    other = client.get("/metrics", headers={"Authorization": f"Bearer {inproc_key}"})

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "voxq_jobs" in exposed_names(r.text)
    assert other.status_code == 403 and "VOXQ_METRICS_TOKEN" in other.json()["error"]["message"]
    assert "voxq_" not in other.text  # every tenant's figures: not for one tenant's key


def test_with_a_token_set_only_its_bearer_reads_them(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "metrics_token", SecretStr(TOKEN))

    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    for wrong in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", ""):
        r = client.get("/metrics", headers={"Authorization": wrong})
        assert r.status_code == 401, wrong
        assert r.json()["error"]["type"] == "unauthorized"
    assert client.get("/metrics").status_code == 401  # a tenant's API key is not the token
    del client.headers["Authorization"]
    assert client.get("/metrics").status_code == 401


def test_an_empty_token_opens_nothing_the_local_key_reads_them(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "metrics_token", SecretStr(""))

    assert client.get("/metrics").status_code == 200
    for bare in ("Bearer ", "Bearer"):
        assert client.get("/metrics", headers={"Authorization": bare}).status_code == 401, bare


# --- what it shows ----------------------------------------------------------------------


def test_submitted_jobs_show_as_queue_depth_and_as_queued_jobs_of_their_kind(
    client: TestClient, broker: redis.Redis
) -> None:
    before = scrape(client)
    for _ in range(3):
        assert client.post("/v1/synthesize", json={"text": a_new_text()}).status_code == 202
    script = f"{a_new_text()}\n{a_new_text()}\n".encode()
    batch = client.post("/v1/batches", files={"file": ("s.txt", script)})
    assert batch.status_code == 202
    after = scrape(client)

    # The broker is this test's own: the live list holds just these messages, one a line; the
    # bulk list what the dispatcher sent of the batches waiting in the session's database, this
    # one's two lines among them.
    bulk = [json.loads(raw)["headers"].get("voxq_batch") for raw in broker.lrange("tts:9", 0, -1)]
    assert value(after, "voxq_queue_depth", queue="tts", lane="live") == 3
    assert value(after, "voxq_queue_depth", queue="tts", lane="bulk") == len(bulk)
    assert bulk.count(batch.json()["id"]) == 2
    assert value(after, "voxq_queue_depth", queue="llm", lane="live") == 0
    queued = {"kind": "synthesis", "status": "queued"}
    assert value(after, "voxq_jobs", **queued) == value(before, "voxq_jobs", **queued) + 5


def test_the_jobs_are_counted_once_for_every_scrape_within_the_interval(
    client: TestClient, broker: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "metrics_jobs_every_s", 60.0)
    broker.delete("voxq:metrics:jobs")
    queued = {"kind": "synthesis", "status": "queued"}
    first = scrape(client)
    assert client.post("/v1/synthesize", json={"text": a_new_text()}).status_code == 202
    kept = scrape(client)
    broker.delete("voxq:metrics:jobs")  # as when the interval has passed
    counted = scrape(client)

    assert value(kept, "voxq_jobs", **queued) == value(first, "voxq_jobs", **queued)  # the count kept
    assert value(counted, "voxq_jobs", **queued) == value(first, "voxq_jobs", **queued) + 1


def test_what_a_worker_records_is_what_metrics_shows(client: TestClient, broker: redis.Redis) -> None:
    now = utcnow()
    first = Job(id="job_m1", kind=JobKind.synthesis, attempts=1, created_at=now - timedelta(seconds=3), started_at=now)
    again = Job(id="job_m2", kind=JobKind.synthesis, attempts=2, created_at=now - timedelta(hours=1), started_at=now)
    dialect = Job(id="job_m3", kind=JobKind.dialect, attempts=1, created_at=now, started_at=now - timedelta(seconds=20))

    worker_metrics.started([first, again])  # a second attempt waited for its backoff, not the queue
    worker_metrics.ended(
        [
            (first, PermanentEngineError("refused")),
            (again, RetryableEngineError("timeout")),
            (dialect, object()),
        ],  # the dialect job's result
        retried={again.id},
    )
    shown = scrape(client)

    waited = {"kind": "synthesis"}
    assert value(shown, "voxq_job_wait_seconds_count", **waited) == 1
    assert value(shown, "voxq_job_wait_seconds_sum", **waited) == pytest.approx(3.0)
    assert value(shown, "voxq_job_wait_seconds_bucket", le="2.5", **waited) == 0
    assert value(shown, "voxq_job_wait_seconds_bucket", le="5.0", **waited) == 1
    assert value(shown, "voxq_job_wait_seconds_bucket", le="+Inf", **waited) == 1
    errors = {"engine": "espeak", "kind": "synthesis"}
    assert value(shown, "voxq_engine_errors_total", error="permanent", **errors) == 1
    assert value(shown, "voxq_engine_errors_total", error="retryable", **errors) == 1
    # Finished: `first` (failed for good) and the dialect job; `again` goes round again.
    assert value(shown, "voxq_job_run_seconds_count", kind="synthesis") == 1
    assert value(shown, "voxq_job_run_seconds_count", kind="dialect") == 1
    assert value(shown, "voxq_job_run_seconds_bucket", kind="dialect", le="10.0") == 0
    assert value(shown, "voxq_job_run_seconds_bucket", kind="dialect", le="30.0") == 1
    assert value(shown, "voxq_job_run_seconds_count", kind="generation") == 0  # shown before its first


def test_every_api_process_reports_the_same_global_counts(client: TestClient, broker: redis.Redis) -> None:
    """The counts live in Redis, not in a process: what another process (another host's
    worker) added is what this API shows."""
    broker.hincrby(metrics.CACHE_MISSES.key, json.dumps([]), 7)
    metrics.Recording().count(metrics.CACHE_MISSES, by=2).send()

    assert value(scrape(client), "voxq_snippet_cache_misses_total") == 9


def test_a_line_the_cache_answers_at_submission_counts_a_hit(
    client: TestClient, broker: redis.Redis, inproc_key: str
) -> None:
    text = a_new_text()
    with session_scope() as session:
        tenant = tenant_for_key(session, inproc_key)
        [job] = synthesis_jobs(session, tenant, [ScriptLine(1, text)], "cmn")
        assert job.snippet_key is not None
        store_snippet(session, NewSnippet(tenant, job.snippet_key, text, "cmn", "espeak", b"fLaC", 22050, 1.5))

    as_tenant = {"Authorization": f"Bearer {inproc_key}"}  # the snippet's tenant, not the reader's
    r = client.post("/v1/synthesize", json={"text": text, "voice": "cmn"}, headers=as_tenant)

    assert r.status_code == 200 and r.json()["result"]["cached"] is True
    shown = scrape(client)
    assert value(shown, "voxq_snippet_cache_hits_total") == 1
    assert value(shown, "voxq_snippet_cache_misses_total") == 0  # a worker counts those, when it looks


def test_the_reconciler_counts_what_it_sends_again(
    client: TestClient, broker: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = client.post("/v1/synthesize", json={"text": a_new_text()}).json()["id"]
    broker.delete(lanes.lane_list("tts", "live"))  # its message is lost (a Redis restarted empty)
    monkeypatch.setattr(get_settings(), "requeue_after_s", 0.0)

    done = reconcile_once(get_settings())

    assert done is not None
    assert job_id.encode() in b"".join(broker.lrange(lanes.lane_list("tts", "live"), 0, -1))
    shown = scrape(client)
    # What earlier tests left queued in this session's database is found too: the counter says
    # what the pass reports, by reason.
    for reason, by_kind in (("lease_ran_out", done.lease_ran_out), ("message_lost", done.message_lost)):
        expected = by_kind.get("synthesis", 0)
        assert value(shown, "voxq_reconciler_resent_total", kind="synthesis", reason=reason) == expected
    assert value(shown, "voxq_reconciler_resent_total", kind="synthesis", reason="message_lost") >= 1


def test_without_redis_it_still_shows_the_database_and_recording_never_raises(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_redis_at(monkeypatch, NOWHERE)
    metrics.Recording().count(metrics.CACHE_HITS).send()  # logged and dropped
    r = client.get("/metrics")

    assert r.status_code == 200
    assert "voxq_jobs" in exposed_names(r.text) and "voxq_queue_depth" not in exposed_names(r.text)


# --- the Grafana dashboard --------------------------------------------------------------

DASHBOARD = REPO / "deploy" / "grafana-dashboard.json"
# What in an expression is not a metric name: strings, label matchers, ranges, grouping
# clauses, functions (a name before "("), keywords and numbers.
_NOT_NAMES = [
    r'"[^"]*"',
    r"\{[^}]*\}",
    r"\[[^\]]*\]",
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
]
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    for pattern in _NOT_NAMES:
        expr = re.sub(pattern, " ", expr)
    words = re.findall(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\b(?!\s*\()", expr)
    return {word for word in words if word.lower() not in _KEYWORDS}


def test_metric_names_are_found_in_an_expression() -> None:
    expr = 'histogram_quantile(0.95, max by (kind, le) (rate(voxq_job_wait_seconds_bucket{kind="x"}[5m]))) / 2'
    assert metric_names(expr) == {"voxq_job_wait_seconds_bucket"}
    assert metric_names("60 * max(rate(a_total[1m])) + on (x) b") == {"a_total", "b"}


def test_the_grafana_dashboard_queries_only_metrics_that_exist(client: TestClient) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = set().union(*map(metric_names, exprs))

    assert len(exprs) >= 8 and used
    assert used <= exposed_names(client.get("/metrics").text)
