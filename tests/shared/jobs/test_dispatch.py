"""The dispatcher's choice, on SQLite and Postgres: which waiting lines go next, in fair order
between tenants (by weight) and then between a tenant's batches; and, through the in-process
API on a private Redis, a lane's list kept at its window and topped up as workers take."""

import json
import uuid
from collections import Counter

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shared.config import Settings, get_settings
from shared.db import make_engine, session_scope
from shared.jobs import dispatch, state
from shared.jobs.contracts import SynthesisInput
from shared.jobs.lanes import Lane
from shared.jobs.reconcile import reconcile_once
from shared.models import Batch, DispatchClock, DispatchShare, Job, JobKind, JobStatus, Tenant
from tests.scrape import samples, value


def session_for(url: str) -> Session:
    """A session on the test's database with nothing waiting for the dispatcher: the Postgres
    database is the test session's, so what earlier tests left waiting is set aside."""
    s = Session(make_engine(url), expire_on_commit=False)
    s.execute(update(Batch).values(undispatched=0))
    s.execute(delete(DispatchShare))
    s.execute(delete(DispatchClock))
    s.commit()
    return s


def tenant(s: Session, name: str, weight: float = 1.0) -> str:
    row = Tenant(name=f"{name}-{uuid.uuid4().hex[:8]}", weight=weight)
    s.add(row)
    s.flush()
    return row.id


def batch(s: Session, tenant_id: str, lines: int, lane: Lane = "bulk") -> str:
    """A batch whose lines wait in the database, as `submit.create_batch` stores one."""
    row = Batch(tenant_id=tenant_id, kind=JobKind.synthesis, lines=lines, options={}, lane=lane, undispatched=lines)
    s.add(row)
    s.flush()
    new_jobs = [state.NewJob(JobKind.synthesis, SynthesisInput(text=f"第{n}行。"), n) for n in range(1, lines + 1)]
    state.insert_jobs(s, tenant_id, new_jobs, batch_id=row.id, dispatched=False)
    s.commit()
    return row.id


def step(s: Session, room: int, lane: Lane = "bulk") -> list[dispatch.Message]:
    """One dispatch step's choice, recorded as sent, as `top_up` does it."""
    messages = dispatch.choose(s, "tts", lane, room, get_settings())
    dispatch.mark_sent(s, messages)
    s.commit()
    return messages


def owners(s: Session, messages: list[dispatch.Message]) -> list[str]:
    names = {tenant_id: name.rsplit("-", 1)[0] for tenant_id, name in s.execute(select(Tenant.id, Tenant.name))}
    tenant_of = dict(s.execute(select(Batch.id, Batch.tenant_id)).all())
    return [names[tenant_of[m.batch_id]] for m in messages]


def test_a_tenant_with_ten_batches_gets_the_same_share_as_a_tenant_with_one(database_url: str) -> None:
    with session_for(database_url) as s:
        many, one = tenant(s, "many"), tenant(s, "one")
        for _ in range(10):
            batch(s, many, 10)
        batch(s, one, 10)

        taken = owners(s, step(s, 20))

    assert Counter(taken) == {"many": 10, "one": 10}
    assert all(a != b for a, b in zip(taken, taken[1:], strict=False))  # they take turns


def test_a_tenants_batches_take_turns_among_themselves(database_url: str) -> None:
    with session_for(database_url) as s:
        owner = tenant(s, "owner")
        first, second = batch(s, owner, 5), batch(s, owner, 5)

        order = [m.batch_id for m in step(s, 6)]

    assert Counter(order) == {first: 3, second: 3}


def test_a_tenant_of_weight_two_gets_two_lines_to_anothers_one(database_url: str) -> None:
    with session_for(database_url) as s:
        heavy, light = tenant(s, "heavy", weight=2.0), tenant(s, "light")
        batch(s, heavy, 40)
        batch(s, light, 40)

        taken = owners(s, step(s, 30))

    assert Counter(taken) == {"heavy": 20, "light": 10}


def test_a_tenant_that_starts_waiting_later_gets_turns_from_then_not_a_burst(database_url: str) -> None:
    with session_for(database_url) as s:
        early = tenant(s, "early")
        batch(s, early, 100)
        step(s, 50)  # alone for a while
        late = tenant(s, "late")
        batch(s, late, 100)

        taken = owners(s, step(s, 10))

    assert Counter(taken) == {"early": 5, "late": 5}


def test_lines_go_in_line_order_once_each_and_a_batch_stops_when_it_has_none_left(database_url: str) -> None:
    with session_for(database_url) as s:
        owner = tenant(s, "owner")
        batch_id = batch(s, owner, 7)

        first, second, third = step(s, 4), step(s, 4), step(s, 4)
        lines = dict(s.execute(select(Job.id, Job.line).where(Job.batch_id == batch_id)).all())
        waiting = s.get_one(Batch, batch_id).undispatched

    sent = [lines[job_id] for m in first + second for job_id in m.job_ids]
    assert sent == [1, 2, 3, 4, 5, 6, 7] and third == [] and waiting == 0


def test_a_live_batch_is_chosen_for_the_live_lane_only(database_url: str) -> None:
    with session_for(database_url) as s:
        owner = tenant(s, "owner")
        live = batch(s, owner, 3, lane="live")
        batch(s, owner, 3, lane="bulk")

        chosen = step(s, 10, lane="live")

    assert {m.batch_id for m in chosen} == {live} and len(chosen) == 3


def test_a_step_with_nothing_waiting_chooses_nothing(database_url: str) -> None:
    with session_for(database_url) as s:
        assert step(s, 10) == []


# --- through the in-process API, on a private Redis ------------------------------------------


@pytest.fixture
def nothing_waiting() -> None:
    """The in-process API's database is the test session's: what earlier tests left waiting is
    set aside, so the dispatcher's choice is this test's batch."""
    with session_scope() as s:
        s.execute(update(Batch).values(undispatched=0))


def submit_batch(client: TestClient, lines: int) -> str:
    script = "\n".join(f"第{n}行，在等候的一句{id(client)}{n}。" for n in range(lines)).encode()
    r = client.post("/v1/batches", files={"file": ("wait.txt", script)}, data={"voice": "cmn"})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def on_list(broker: redis.Redis, name: str, batch_id: str) -> int:
    return sum(1 for raw in broker.lrange(name, 0, -1) if json.loads(raw)["headers"].get("voxq_batch") == batch_id)


def test_the_bulk_list_holds_the_window_and_is_topped_up_as_workers_take(
    client: TestClient, broker: redis.Redis, monkeypatch: pytest.MonkeyPatch, nothing_waiting: None, local_key: str
) -> None:
    monkeypatch.setattr(get_settings(), "dispatch_window", 3)
    batch_id = submit_batch(client, 10)

    sent_at_once = broker.llen("tts:9")
    with session_scope() as s:
        backlog = state.backlog(s)[("tts", "bulk")]
    for _ in range(2):
        broker.rpop("tts:9")  # a worker takes two messages
    dispatch.dispatch_all()

    assert sent_at_once == 3 and backlog == 7 and broker.llen("tts:9") == 3
    assert (
        value(
            samples(client.get("/metrics", headers={"Authorization": f"Bearer {local_key}"}).text),
            "voxq_backlog",
            queue="tts",
            lane="bulk",
        )
        == 5
    )
    with session_scope() as s:
        waiting = s.scalars(select(Job.id).where(Job.batch_id == batch_id, Job.dispatched_at.is_(None))).all()
    assert len(waiting) + on_list(broker, "tts:9", batch_id) + 2 == 10


def test_a_woken_dispatcher_refills_a_list_once_half_its_window_is_taken(
    client: TestClient, broker: redis.Redis, monkeypatch: pytest.MonkeyPatch, nothing_waiting: None
) -> None:
    monkeypatch.setattr(get_settings(), "dispatch_window", 4)
    submit_batch(client, 10)  # its first 4 lines are sent where it is accepted

    broker.rpop("tts:9")  # a worker takes one: more than half the window is left
    not_yet = dispatch.top_up("tts", "bulk", half_empty=True)
    broker.rpop("tts:9")  # and another: half is left
    refilled = dispatch.top_up("tts", "bulk", half_empty=True)

    assert not_yet == 0 and refilled == 2 and broker.llen("tts:9") == 4
    assert dispatch.with_backlog() == [("tts", "bulk")]


def test_messages_lost_from_redis_are_sent_again_from_the_database_alone(
    client: TestClient, broker: redis.Redis, monkeypatch: pytest.MonkeyPatch, nothing_waiting: None
) -> None:
    settings: Settings = get_settings()
    monkeypatch.setattr(settings, "dispatch_window", 4)
    batch_id = submit_batch(client, 6)
    monkeypatch.setattr(settings, "requeue_after_s", 3600.0)
    broker.flushdb()  # Redis restarted empty: the window is lost

    not_yet = reconcile_once(settings)
    monkeypatch.setattr(settings, "requeue_after_s", 0.0)
    again = reconcile_once(settings)

    assert not_yet is not None and sum(not_yet.message_lost.values()) == 0
    assert again is not None and again.message_lost.get("synthesis", 0) >= 4
    # What was lost went back to the backlog: the window refilled in fair order, never past it.
    assert broker.llen("tts:9") == 4
    with session_scope() as s:
        statuses = s.scalars(select(Job.status).where(Job.batch_id == batch_id)).all()
        waiting = s.scalars(select(Job.id).where(Job.batch_id == batch_id, Job.dispatched_at.is_(None))).all()
    assert statuses == [JobStatus.queued] * 6
    # Every line is on the list or waits in the database again: none is marked sent and lost
    # (on the list may be none of this batch's: earlier tests' lines take turns with it).
    assert on_list(broker, "tts:9", batch_id) + len(waiting) == 6


def test_a_cancelled_batch_leaves_nothing_for_the_dispatcher(
    client: TestClient, broker: redis.Redis, monkeypatch: pytest.MonkeyPatch, nothing_waiting: None
) -> None:
    monkeypatch.setattr(get_settings(), "dispatch_window", 2)
    batch_id = submit_batch(client, 8)

    assert client.post(f"/v1/batches/{batch_id}/cancel").status_code == 200
    broker.delete("tts:9")
    dispatch.dispatch_all()

    assert on_list(broker, "tts:9", batch_id) == 0
    with session_scope() as s:
        assert s.get_one(Batch, batch_id).undispatched == 0
