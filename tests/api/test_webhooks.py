"""Webhooks through the API in this process: the secret shown once, callback URLs refused or
kept at submission, and the deliveries listed per batch and per job, to their tenant only."""

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import app
from shared.config import get_settings
from shared.db import session_scope
from shared.migrate import upgrade
from shared.tenants.auth import create_key


def new_client() -> TestClient:
    upgrade()
    with session_scope() as session:
        key = create_key(session, f"webhooks-{uuid.uuid4().hex[:8]}")
    return TestClient(app, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def api() -> Iterator[TestClient]:
    """A tenant of its own, with no webhook secret yet."""
    with new_client() as c:
        yield c


@pytest.fixture
def private_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """VOXQ_WEBHOOK_ALLOW_PRIVATE=1, for a receiver on this machine."""
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)


def test_the_secret_is_shown_once_and_a_new_one_replaces_it(api: TestClient) -> None:
    first = api.post("/v1/webhook-secret")
    second = api.post("/v1/webhook-secret")

    assert first.status_code == 201, first.text
    assert first.json()["secret"].startswith("whsec_") and second.json()["secret"] != first.json()["secret"]


def test_a_callback_needs_the_tenants_secret_first(api: TestClient, private_allowed: None) -> None:
    r = api.post("/v1/dialect", json={"text": "你好", "callback_url": "http://127.0.0.1:9/hook"})

    assert r.status_code == 400
    assert "POST /v1/webhook-secret" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/hook", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("http://127.0.0.1:8080/hook", "private, loopback or link-local"),
        ("http://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("http://10.0.0.7/hook", "private, loopback or link-local"),
        # IPv6 forms that carry a private IPv4 address: NAT64, 6to4, IPv4-compatible, SIIT, IPv4-mapped.
        ("http://[64:ff9b::a00:7]/hook", "leads to 10.0.0.7"),
        ("http://[2002:a9fe:a9fe::1]/latest/meta-data", "leads to 169.254.169.254"),
        ("http://[::127.0.0.1]:8080/hook", "leads to 127.0.0.1"),
        ("http://[::ffff:0:192.168.1.1]/hook", "leads to 192.168.1.1"),
        ("http://[::ffff:10.0.0.7]/hook", "leads to 10.0.0.7"),
    ],
)
def test_a_callback_url_that_is_not_http_or_is_private_is_400_on_every_route(
    api: TestClient, url: str, problem: str
) -> None:
    api.post("/v1/webhook-secret")
    requests = [
        api.post("/v1/synthesize", json={"text": "你好", "voice": "cmn", "callback_url": url}),
        api.post("/v1/dialect", json={"text": "你好", "callback_url": url}),
        api.post("/v1/dialect/batch", json={"items": [{"text": "你好"}], "callback_url": url}),
        api.post("/v1/batches", files={"file": ("a.txt", "你好。".encode())}, data={"callback_url": url}),
    ]

    for r in requests:
        assert r.status_code == 400, r.text
        assert problem in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::a00:7]/hook",
        "http://[2002:a9fe:a9fe::1]/hook",
        "http://[::127.0.0.1]:8080/hook",
        "http://[::ffff:0:192.168.1.1]/hook",
        "http://[::ffff:10.0.0.7]/hook",
    ],
)
def test_an_ipv6_callback_carrying_a_private_ipv4_address_is_kept_when_private_ones_are_allowed(
    api: TestClient, private_allowed: None, url: str
) -> None:
    api.post("/v1/webhook-secret")

    job = api.post("/v1/dialect", json={"text": "你好", "callback_url": url})

    assert job.status_code in (200, 202), job.text  # answered at once by the CPU detector, or queued
    [delivery] = api.get(f"/v1/jobs/{job.json()['id']}/deliveries").json()
    assert delivery["url"] == url


def test_a_job_and_a_batch_keep_their_callback_until_they_end(api: TestClient, private_allowed: None) -> None:
    api.post("/v1/webhook-secret")
    url = "http://127.0.0.1:9/hook"

    job = api.post("/v1/dialect", json={"text": "侬今朝夜饭吃啥？", "callback_url": url}).json()
    batch = api.post("/v1/dialect/batch", json={"items": [{"text": "你好"}] * 2, "callback_url": url}).json()

    [for_job] = api.get(f"/v1/jobs/{job['id']}/deliveries").json()
    [for_batch] = api.get(f"/v1/batches/{batch['id']}/deliveries").json()
    assert (for_job["event"], for_job["url"], for_job["state"], for_job["attempts"]) == (
        "job.finished",
        url,
        "waiting",
        [],
    )
    assert (for_batch["event"], for_batch["state"]) == ("batch.finished", "waiting")
    assert batch["options"]["callback_url"] == url
    assert "callback_url" not in api.get(f"/v1/jobs/{job['id']}").json()["input"]
    with new_client() as other:  # another tenant sees none of it
        assert other.get(f"/v1/batches/{batch['id']}/deliveries").status_code == 404
        assert other.get(f"/v1/jobs/{job['id']}/deliveries").status_code == 404


def test_a_callback_url_over_its_limit_is_413(api: TestClient) -> None:
    r = api.post("/v1/dialect", json={"text": "你好", "callback_url": "https://example.com/" + "x" * 2000})

    assert r.status_code == 413
