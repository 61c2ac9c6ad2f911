"""The webhook sender, on SQLite and Postgres, against real receivers on this machine: a tenant
whose receiver stalls holds only its share of the sender while other tenants' webhooks go, each
delivery is sent by one sender at a time however many run, and a reconciler pass fires webhooks
without waiting for any receiver."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import redis
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from deploy.stack import REPO
from shared.config import Settings, get_settings
from shared.db import make_engine, new_session
from shared.jobs.reconcile import reconcile_once
from shared.migrate import upgrade
from shared.models import DeliveryState, Job, JobKind, JobStatus, Tenant, WebhookAttempt, WebhookDelivery, utcnow
from shared.tenants.auth import create_key, tenant_for_key
from shared.webhooks import callbacks, delivery, sender
from shared.webhooks.delivery import Outcome, fire_ended
from tests.plugins.services import wait_for
from tests.webhook_receiver import webhook_receiver

Sessions = sessionmaker[Session]


def settings(**changed: Any) -> Settings:
    """Quick to look, slow to retry (a failed webhook is not tried again within a test)."""
    base = {
        "webhook_allow_private": True,
        "webhook_poll_s": 0.05,
        "webhook_backoff_s": 600.0,
        "webhook_send_beside_reconciler": False,
    }
    return get_settings().model_copy(update=base | changed)


@pytest.fixture
def sessions(database_url: str) -> Iterator[Sessions]:
    engine = make_engine(database_url)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def new_tenant(sessions: Any, name: str) -> str:
    with sessions() as s, s.begin():
        tenant_id = tenant_for_key(s, create_key(s, f"{name}-{uuid.uuid4().hex[:8]}"))
        s.get_one(Tenant, tenant_id).webhook_secret = callbacks.new_secret()
    return tenant_id


def ended_jobs_with_callbacks(sessions: Any, tenant_id: str, url: str, n: int = 1) -> list[str]:
    """`n` single jobs of the tenant that have ended, their webhooks fired: the deliveries' ids."""
    with sessions() as s, s.begin():
        jobs = [
            Job(tenant_id=tenant_id, kind=JobKind.dialect, status=JobStatus.succeeded, input={"text": "你好"})
            for _ in range(n)
        ]
        s.add_all(jobs)
        s.flush()
        callbacks.expect(s, tenant_id, url, job_ids=[job.id for job in jobs])
        fire_ended(s)
        ids = s.scalars(select(WebhookDelivery.id).where(WebhookDelivery.job_id.in_([job.id for job in jobs])))
        return list(ids)


def nothing_else_due(sessions: Any) -> None:
    """Earlier tests' webhooks on this database (Postgres's is the session's) wait out of the way."""
    with sessions() as s, s.begin():
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.state == DeliveryState.pending)
            .values(next_attempt_at=utcnow() + timedelta(days=1))
        )


def attempts_of(sessions: Any, ids: list[str]) -> list[WebhookAttempt]:
    with sessions() as s:
        return list(s.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids))))


def states_of(sessions: Any, ids: list[str]) -> list[DeliveryState]:
    with sessions() as s:
        return list(s.scalars(select(WebhookDelivery.state).where(WebhookDelivery.id.in_(ids))))


@contextmanager
def running(*senders: sender.Sender) -> Iterator[None]:
    for each in senders:
        each.start()
    try:
        yield
    finally:
        for each in senders:
            each.stop()
        for each in senders:
            each.join(timeout=30)
            assert not each.is_alive()


def test_a_stalled_tenant_holds_only_its_share_while_other_tenants_webhooks_are_sent(sessions: Sessions) -> None:
    given = settings(webhook_deadline_s=1.5, webhook_timeout_s=5.0, webhook_concurrency=3, webhook_tenant_concurrency=2)
    nothing_else_due(sessions)  # an earlier test's due webhook would take one of the three slots
    with webhook_receiver(trickle_s=0.2) as stalled, webhook_receiver() as healthy:
        slow = ended_jobs_with_callbacks(sessions, new_tenant(sessions, "stalls"), stalled.url, n=3)
        others = [
            delivery_id
            for name in ("other-a", "other-b", "other-c")
            for delivery_id in ended_jobs_with_callbacks(sessions, new_tenant(sessions, name), healthy.url)
        ]
        started = time.monotonic()
        with running(sender.Sender(given, sessions)):
            wait_for(lambda: states_of(sessions, others) == [DeliveryState.delivered] * 3, timeout=10, interval=0.02)
            others_sent_after = time.monotonic() - started
            in_flight_meanwhile = len(stalled.received)
            recorded_meanwhile = attempts_of(sessions, slow)

            cut = wait_for(lambda: len(a := attempts_of(sessions, slow)) >= 2 and a, timeout=10, interval=0.02)
            wait_for(lambda: len(stalled.received) == 3, timeout=10)  # its third, once a share is free

    # The other tenants' webhooks were all sent before the stalled ones' first deadline...
    assert others_sent_after < given.webhook_deadline_s
    assert recorded_meanwhile == [] and in_flight_meanwhile == 2  # ...while it held its two of the three slots
    assert len(healthy.received) == 3
    # ...and each stalled attempt was cut at the deadline, to be tried again later.
    for each in cut:
        assert each.status_code is None and each.error is not None
        assert "cut off at the deadline" in each.error
        assert 1500 <= each.duration_ms < 2500
    assert set(states_of(sessions, slow)) == {DeliveryState.pending}


def test_each_delivery_is_sent_by_one_sender_however_many_run(sessions: Sessions) -> None:
    given = settings(webhook_concurrency=4, webhook_tenant_concurrency=2)
    with webhook_receiver() as receiver:
        ids = [
            delivery_id
            for name in ("one", "two", "three")
            for delivery_id in ended_jobs_with_callbacks(sessions, new_tenant(sessions, name), receiver.url, n=6)
        ]
        with running(sender.Sender(given, sessions), sender.Sender(given, sessions), sender.Sender(given, sessions)):
            wait_for(lambda: states_of(sessions, ids) == [DeliveryState.delivered] * len(ids), timeout=30)

    assert sorted(r.headers["x-voxqueue-event-id"] for r in receiver.received) == sorted(ids)
    assert sorted(a.delivery_id for a in attempts_of(sessions, ids)) == sorted(ids)


def test_a_claim_is_one_senders_until_its_lease_runs_out_and_a_late_record_changes_nothing(
    sessions: Sessions,
) -> None:
    given = settings(webhook_deadline_s=10.0)
    nothing_else_due(sessions)
    [delivery_id] = ended_jobs_with_callbacks(sessions, new_tenant(sessions, "lease"), "http://127.0.0.1:9/hook")

    [first] = delivery.claim(sessions, given, room=5, busy={})
    assert delivery.claim(sessions, given, room=5, busy={}) == []  # leased to the first sender
    with sessions() as s:
        lease_ends = s.get_one(WebhookDelivery, delivery_id).next_attempt_at
    assert lease_ends is not None and lease_ends > utcnow() + timedelta(seconds=given.webhook_deadline_s)
    with sessions() as s, s.begin():  # the first sender died: its lease runs out
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    [second] = delivery.claim(sessions, given, room=5, busy={})

    assert (first.id, first.attempt) == (second.id, second.attempt) == (delivery_id, 1)
    assert delivery.record(sessions, second, Outcome(200, None, 12.0), given) == DeliveryState.delivered
    assert delivery.record(sessions, first, Outcome(None, "late", 10000.0), given) is None
    assert [(a.attempt, a.status_code) for a in attempts_of(sessions, [delivery_id])] == [(1, 200)]


def test_a_claim_takes_at_most_a_tenants_share_and_fills_the_room_with_others(sessions: Sessions) -> None:
    given = settings(webhook_tenant_concurrency=2)
    nothing_else_due(sessions)
    many, few, one = new_tenant(sessions, "many"), new_tenant(sessions, "few"), new_tenant(sessions, "one")
    ended_jobs_with_callbacks(sessions, many, "http://127.0.0.1:9/a", n=10)  # due first
    ended_jobs_with_callbacks(sessions, few, "http://127.0.0.1:9/b", n=3)
    ended_jobs_with_callbacks(sessions, one, "http://127.0.0.1:9/c", n=1)

    claimed = delivery.claim(sessions, given, room=5, busy={many: 1})  # one of its own in flight already

    assert sorted(d.tenant_id for d in claimed) == sorted([many, few, few, one])


def test_a_reconciler_pass_fires_webhooks_without_waiting_for_a_stalled_receiver(broker: redis.Redis) -> None:
    upgrade()  # the process's own database, which a reconciler pass works on
    given = settings(webhook_deadline_s=3.0, webhook_timeout_s=5.0)
    with webhook_receiver(trickle_s=0.2) as stalled:
        tenant_id = new_tenant(new_session, "reconciled")
        [in_flight] = ended_jobs_with_callbacks(new_session, tenant_id, stalled.url)
        with running(sender.Sender(given)):
            wait_for(lambda: stalled.received, timeout=5, interval=0.02)
            with new_session() as s, s.begin():  # and a job that ends now, whose webhook the pass fires
                job = Job(tenant_id=tenant_id, kind=JobKind.dialect, status=JobStatus.running, input={"text": "你"})
                s.add(job)
                s.flush()
                callbacks.expect(s, tenant_id, stalled.url, job_ids=[job.id])
                s.execute(update(Job).where(Job.id == job.id).values(status=JobStatus.succeeded))

            started = time.monotonic()
            done = reconcile_once(given)
            took = time.monotonic() - started
            still_in_flight = attempts_of(new_session, [in_flight]) == []

            with new_session() as s:
                fired = s.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job.id)).one()

    assert done is not None
    assert took < 0.5, f"a pass took {took:.2f}s with a stalled receiver pending"
    assert still_in_flight  # the stalled attempt went on meanwhile, cut only at its deadline
    assert fired.state == DeliveryState.pending and fired.body is not None


def test_a_sender_runs_beside_the_reconciler_from_a_processs_second_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sender, "_beside", {})
    monkeypatch.setattr(sender, "_passes", sender.Counter())
    started: list[sender.Sender] = []
    monkeypatch.setattr(sender.Sender, "start", lambda self: started.append(self))
    monkeypatch.setattr(sender.Sender, "is_alive", lambda self: self in started)

    assert sender.beside_reconciler(settings(webhook_send_beside_reconciler=False)) is None
    assert sender.beside_reconciler(settings(webhook_send_beside_reconciler=True)) is None  # a one-shot pass
    second = sender.beside_reconciler(settings(webhook_send_beside_reconciler=True))
    third = sender.beside_reconciler(settings(webhook_send_beside_reconciler=True))

    assert second is not None and third is second and started == [second]


def test_voxq_worker_webhooks_is_listed_and_an_unknown_pool_is_refused() -> None:
    def voxq(*args: str) -> subprocess.CompletedProcess[str]:
        env = os.environ | {"COLUMNS": "120"}
        return subprocess.run(
            [sys.executable, "-m", "cli", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
        )

    shown = voxq("worker", "--help")
    refused = voxq("worker", "mail")

    assert shown.returncode == 0 and "tts, llm, media or webhooks" in shown.stdout
    assert refused.returncode == 2 and "use tts, llm, media, webhooks" in refused.stderr


def test_a_sender_stops_within_its_poll_when_idle(sessions: Sessions) -> None:
    idle = sender.Sender(settings(), sessions)
    idle.start()
    time.sleep(0.1)
    started = time.monotonic()
    idle.stop()
    idle.join(timeout=5)

    assert not idle.is_alive() and time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("webhook_deadline_s", 0),
        ("webhook_deadline_s", 121),
        ("webhook_max_answer_bytes", -1),
        ("webhook_max_answer_bytes", 2 * 1024 * 1024),
        ("webhook_tenant_concurrency", 0),
        ("webhook_poll_s", 0),
    ],
)
def test_the_senders_settings_are_held_within_their_bounds(name: str, value: float) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})
