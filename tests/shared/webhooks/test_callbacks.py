"""Webhooks: signing, which callback URLs are refused, and, on SQLite and Postgres, that a
delivery fires once when its batch or job has ended, cancelled lines included."""

import hashlib
import hmac
import json

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.db import make_engine
from shared.errors import BadInput
from shared.jobs import state
from shared.jobs.contracts import DialectInput
from shared.models import Batch, DeliveryState, Job, JobKind, JobStatus, WebhookDelivery
from shared.tenants.auth import create_key, tenant_for_key
from shared.webhooks import callbacks
from shared.webhooks.delivery import fire_ended


def test_the_signature_is_the_hmac_sha256_of_the_timestamp_and_the_body() -> None:
    secret = callbacks.new_secret()
    body = b'{"type": "batch.finished"}'

    signed = callbacks.sign(secret, 1767225600, body)

    expected = hmac.new(secret.encode(), b"1767225600." + body, hashlib.sha256).hexdigest()
    assert secret.startswith("whsec_") and signed == f"v1={expected}"
    assert callbacks.sign(secret, 1767225601, body) != signed  # the timestamp is signed too


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "example.com/hook",
        "http:///no-host",
        "http://example.com:99999/",
    ],
)
def test_a_callback_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(BadInput, match="callback_url"):
        callbacks.check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_a_private_loopback_or_link_local_address_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(BadInput, match="private, loopback or link-local"):
        callbacks.check_url(url, allow_private=False)

    assert callbacks.check_url(url, allow_private=True) == url


# IPv6 addresses that carry an IPv4 one, which a dual-stack socket or a translator reaches instead.
CARRYING_A_PRIVATE_IPV4 = {
    "NAT64": ("64:ff9b::7f00:1", "127.0.0.1"),
    "NAT64 to the metadata service": ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
    "6to4": ("2002:7f00:1::1", "127.0.0.1"),
    "6to4 of a private network": ("2002:a00:7::", "10.0.0.7"),
    "IPv4-compatible": ("::127.0.0.1", "127.0.0.1"),
    "SIIT": ("::ffff:0:127.0.0.1", "127.0.0.1"),
    "SIIT of a private network": ("::ffff:0:192.168.0.10", "192.168.0.10"),
    "IPv4-mapped": ("::ffff:127.0.0.1", "127.0.0.1"),
    "IPv4-mapped link-local": ("::ffff:169.254.169.254", "169.254.169.254"),
}


@pytest.mark.parametrize(("address", "carried"), CARRYING_A_PRIVATE_IPV4.values(), ids=CARRYING_A_PRIVATE_IPV4)
def test_an_ipv6_address_that_carries_a_private_ipv4_one_is_refused_unless_allowed(address: str, carried: str) -> None:
    url = f"http://[{address}]:8080/hook"

    with pytest.raises(BadInput, match=f"private, loopback or link-local.*leads to {carried}"):
        callbacks.check_url(url, allow_private=False)
    with pytest.raises(callbacks.Refused):  # and again when a request would connect
        callbacks.target(url, allow_private=False)

    assert callbacks.check_url(url, allow_private=True) == url
    assert callbacks.target(url, allow_private=True).url == url


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:0:8.8.8.8", "::ffff:8.8.8.8"])
def test_an_ipv6_address_that_carries_a_public_ipv4_one_is_accepted(address: str) -> None:
    url = f"http://[{address}]/hook"

    assert callbacks.check_url(url, allow_private=False) == url


def test_a_local_use_nat64_prefix_is_refused_as_the_operators_own_network() -> None:
    with pytest.raises(BadInput, match="private, loopback or link-local"):
        callbacks.check_url("http://[64:ff9b:1::808:808]/hook", allow_private=False)


def test_a_request_is_pinned_to_the_checked_address_with_the_hosts_name_kept() -> None:
    plain = callbacks.target("http://8.8.8.8:8080/hook?x=1", allow_private=False)
    tls = callbacks.target("https://user:pw@8.8.4.4/hook", allow_private=False)

    assert plain == callbacks.Target("http://8.8.8.8:8080/hook?x=1", "8.8.8.8:8080", None)
    assert tls == callbacks.Target("https://user:pw@8.8.4.4/hook", "8.8.4.4", "8.8.4.4")


def session_for(url: str) -> Session:
    return Session(make_engine(url), expire_on_commit=False)


def _batch(s: Session, tenant: str, statuses: list[JobStatus]) -> Batch:
    batch = Batch(tenant_id=tenant, kind=JobKind.dialect, lines=len(statuses))
    s.add(batch)
    s.flush()
    spec = DialectInput(text="你好").model_dump()
    s.add_all(
        [
            Job(tenant_id=tenant, batch_id=batch.id, line=n, kind=JobKind.dialect, status=st, input=spec)
            for n, st in enumerate(statuses, 1)
        ]
    )
    s.flush()
    callbacks.expect(s, tenant, "https://example.com/hook", batch_id=batch.id)
    s.commit()
    return batch


def _delivery(s: Session, batch: Batch) -> WebhookDelivery:
    return s.scalars(select(WebhookDelivery).where(WebhookDelivery.batch_id == batch.id)).one()


def test_a_cancelled_batch_fires_once_when_its_running_line_has_finished(database_url: str) -> None:
    with session_for(database_url) as s:
        tenant = tenant_for_key(s, create_key(s, "wh-cancel"))
        batch = _batch(s, tenant, [JobStatus.succeeded, JobStatus.running, JobStatus.queued, JobStatus.queued])

        assert fire_ended(s) == 0  # lines still queued and running
        assert state.cancel_queued(s, batch.id) == 2
        s.commit()
        assert fire_ended(s) == 0  # the running line finishes first
        s.execute(
            update(Job)
            .where(Job.batch_id == batch.id, Job.status == JobStatus.running)
            .values(status=JobStatus.succeeded)
        )
        s.commit()

        assert fire_ended(s) == 1
        s.commit()
        assert fire_ended(s) == 0  # once only
        delivery = _delivery(s, batch)
        s.refresh(delivery)
        event = json.loads(delivery.body or "")
        assert delivery.state == DeliveryState.pending and delivery.next_attempt_at is not None
        assert event["type"] == "batch.finished" and event["id"] == batch.id and event["event_id"] == delivery.id
        assert event["status"] == "cancelled"
        assert event["counts"] == {"queued": 0, "running": 0, "succeeded": 2, "failed": 0, "cancelled": 2}
        assert state.cancel_queued(s, batch.id) == 0  # an ended batch: nothing changes


def test_a_finished_single_job_fires_its_own_event(database_url: str) -> None:
    with session_for(database_url) as s:
        tenant = tenant_for_key(s, create_key(s, "wh-job"))
        job = Job(tenant_id=tenant, kind=JobKind.dialect, status=JobStatus.running, input={"text": "你好"})
        s.add(job)
        s.flush()
        callbacks.expect(s, tenant, "https://example.com/hook", job_ids=[job.id])
        s.commit()
        assert fire_ended(s) == 0

        s.execute(update(Job).where(Job.id == job.id).values(status=JobStatus.failed, error="engine said no"))
        s.commit()
        s.expire_all()  # as the sweep's own session would: read what the worker wrote

        assert fire_ended(s) == 1
        s.commit()
        delivery = s.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job.id)).one()
        s.refresh(delivery)
        event = json.loads(delivery.body or "")
        assert (event["type"], event["id"], event["status"], event["error"]) == (
            "job.finished",
            job.id,
            "failed",
            "engine said no",
        )
