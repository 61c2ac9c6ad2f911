"""The runner in this process: real Celery tasks run eagerly (`Task.apply`, no worker and no
broker between them; a retry runs at once, without its backoff), the session's SQLite
database, and an engine written here that answers as each test tells it to."""

import base64
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from celery import Celery, Task
from celery.signals import task_retry
from redis.client import PubSub
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import session_scope
from shared.errors import RetryableEngineError, VoxQueueError
from shared.jobs import queue, state
from shared.jobs.contracts import GenerationInput, GenerationResult, JobResult
from shared.jobs.lanes import GENERATE_TASK, Lane, lane_list
from shared.jobs.notify import CHANNEL
from shared.migrate import upgrade
from shared.models import Job, JobKind, JobStatus
from shared.tenants.auth import create_key, tenant_for_key
from workers.runner import JOB_TASK_POLICY, Enqueue, FollowUp, Outcome, Outcomes, TaskPolicy, Work, run_jobs

# Every test publishes (metrics, finished-job notices) to a Redis database of its own.
pytestmark = pytest.mark.usefixtures("broker")

# An app of the tests' own, so that their tasks are not registered with the workers' app.
app = Celery("runner-tests", set_as_current=False)
_task_names = itertools.count()


def reply(text: str) -> GenerationResult:
    """The stand-in engine's answer to `text`."""
    return GenerationResult(text=f"echo: {text}", model="stand-in")


@dataclass
class Engine:
    """Answers each input with `reply`, unless `fails` lists errors for it: those are its
    next attempts' outcomes, one each. An answer to an input in `follow_ups` comes with that
    follow-up; `crash` is raised out of every call."""

    fails: dict[str, list[VoxQueueError]] = field(default_factory=dict)
    follow_ups: dict[str, FollowUp] = field(default_factory=dict)
    crash: Exception | None = None
    calls: list[list[str]] = field(default_factory=list)  # the inputs of each call, in order

    def __call__(self, group: list[Work[GenerationInput]]) -> Outcomes:
        self.calls.append([work.input.input for work in group])
        if self.crash is not None:
            raise self.crash
        return [self._answer(work.input.input) for work in group]

    def _answer(self, text: str) -> Outcome | VoxQueueError:
        if self.fails.get(text):
            return self.fails[text].pop(0)
        return Outcome(reply(text), follow_up=self.follow_ups.get(text))


def job_task(engine: Engine, max_retries: int = 2) -> Task[Any, Any]:
    """A job task declared as the workers declare theirs, running `engine`."""
    policy: TaskPolicy = {**JOB_TASK_POLICY, "max_retries": max_retries}

    @app.task(name=f"tests.runner.generate-{next(_task_names)}", **policy)
    def generate(self: Task[Any, Any], job_ids: list[str]) -> None:
        run_jobs(self, job_ids, GenerationInput, engine)

    return generate


def run(engine: Engine, job_ids: list[str], max_retries: int = 2) -> None:
    """One message of `job_ids` to a task running `engine`, with every retry it asks for; the
    last run of the task must end well (the runner records failures, it does not raise them)."""
    done = job_task(engine, max_retries).apply(args=(job_ids,))
    assert done.state == "SUCCESS", done.traceback


@pytest.fixture(scope="module")
def tenant() -> str:
    upgrade()
    with session_scope() as session:
        return tenant_for_key(session, create_key(session, "runner-tests"))


def queued(tenant: str, *texts: str) -> list[str]:
    """Queued generation jobs, one per text."""
    new_jobs = [state.NewJob(JobKind.generation, GenerationInput(input=text)) for text in texts]
    with session_scope() as session:
        return state.insert_jobs(session, tenant, new_jobs)


def queued_with_input(tenant: str, stored: dict[str, Any]) -> str:
    """A queued generation job whose stored input is `stored`, as it is."""
    with session_scope() as session:
        job = Job(tenant_id=tenant, kind=JobKind.generation, input=stored)
        session.add(job)
        session.flush()
        return job.id


def succeeded(tenant: str, text: str) -> str:
    """A generation job that some worker already finished."""
    (job_id,) = queued(tenant, text)
    with session_scope() as session:
        job = state.start(session, job_id)
        assert job is not None and state.succeed(session, job, reply(text))
    return job_id


def stored(job_id: str) -> Job:
    with session_scope() as session:
        return session.get_one(Job, job_id)


def result_of(job_id: str) -> GenerationResult:
    return GenerationResult.model_validate(stored(job_id).result)


@dataclass(frozen=True)
class RetryAsked:
    job_ids: list[str]  # what the retry's message carries
    statuses: dict[str, JobStatus]  # the message's jobs as the database had them then


@pytest.fixture
def retries() -> Iterator[list[RetryAsked]]:
    """Every retry a task asks for, as Celery signals it before running it."""
    asked: list[RetryAsked] = []

    def on_retry(request: Any, reason: Any, **_: Any) -> None:
        (job_ids,) = reason.sig.args
        asked.append(RetryAsked(list(job_ids), {job_id: stored(job_id).status for job_id in request.args[0]}))

    task_retry.connect(on_retry, weak=False)
    yield asked
    task_retry.disconnect(on_retry)


def test_a_job_that_succeeds_is_recorded_with_its_typed_result(tenant: str) -> None:
    (job_id,) = queued(tenant, "hello")

    run(Engine(), [job_id])

    job = stored(job_id)
    assert (job.status, job.attempts, job.error) == (JobStatus.succeeded, 1, None)
    assert result_of(job_id) == reply("hello")


def test_a_job_whose_input_does_not_fit_its_kind_fails_alone(tenant: str) -> None:
    (good,) = queued(tenant, "fits")
    bad = queued_with_input(tenant, {"prompt": "no input field"})
    engine = Engine()

    run(engine, [good, bad])

    assert engine.calls == [["fits"]]
    assert stored(good).status == JobStatus.succeeded
    assert stored(bad).status == JobStatus.failed
    assert f"job {bad}: invalid generation input" in (stored(bad).error or "")


def test_a_job_that_may_succeed_later_is_queued_again_and_retried_alone(tenant: str, retries: list[RetryAsked]) -> None:
    done, busy = queued(tenant, "done at once", "busy once")
    engine = Engine(fails={"busy once": [RetryableEngineError("the server is busy")]})

    run(engine, [done, busy])

    assert retries == [RetryAsked([busy], {done: JobStatus.succeeded, busy: JobStatus.queued})]
    assert engine.calls == [["done at once", "busy once"], ["busy once"]]
    assert (stored(done).attempts, stored(busy).attempts) == (1, 2)
    assert stored(busy).status == JobStatus.succeeded and result_of(busy) == reply("busy once")


def test_a_job_still_failing_when_the_retries_are_used_up_fails_saying_so(
    tenant: str, retries: list[RetryAsked]
) -> None:
    (job_id,) = queued(tenant, "always busy")
    engine = Engine(fails={"always busy": [RetryableEngineError("the server is busy")] * 3})

    run(engine, [job_id], max_retries=1)

    assert len(engine.calls) == 2 and len(retries) == 1
    job = stored(job_id)
    assert job.status == JobStatus.failed and job.attempts == 2
    assert job.error == "gave up after 2 attempts: the server is busy"


def test_an_unexpected_error_out_of_the_engine_fails_every_job_of_the_message(
    tenant: str, retries: list[RetryAsked]
) -> None:
    job_ids = queued(tenant, "one", "two")

    run(Engine(crash=KeyError("model")), job_ids)

    assert retries == []
    assert [stored(job_id).status for job_id in job_ids] == [JobStatus.failed] * 2
    assert [stored(job_id).error for job_id in job_ids] == ["internal error: KeyError: 'model'"] * 2


def test_a_job_already_finished_is_not_started_again(tenant: str) -> None:
    finished = succeeded(tenant, "finished before")
    (fresh,) = queued(tenant, "fresh")
    engine = Engine()

    run(engine, [finished, fresh])
    run(engine, [finished])

    assert engine.calls == [["fresh"]]
    assert stored(finished).attempts == 1 and result_of(finished) == reply("finished before")


@dataclass
class FollowedByOne:
    """A follow-up written here: records the result and creates one generation job, the
    parent's child, to go in `lane`. It notes the parent's status as another connection
    sees it while the recording transaction is still open."""

    lane: Lane
    seen_outside: list[JobStatus] = field(default_factory=list)

    def record(self, session: Session, job: Job, result: JobResult) -> Enqueue:
        child = state.NewJob(JobKind.generation, GenerationInput(input=f"after {job.id}"))
        assert state.succeed(session, job, result)
        to_queue = state.insert_jobs(session, job.tenant_id, [child], parent_id=job.id)
        self.seen_outside.append(stored(job.id).status)
        return Enqueue(GENERATE_TASK, self.lane, to_queue)


def children(parent_id: str) -> list[Job]:
    with session_scope() as session:
        return list(session.scalars(select(Job).where(Job.parent_id == parent_id)))


def messages(broker: redis.Redis, lane: Lane) -> list[list[str]]:
    """The job ids of each message on the LLM pool's list of `lane`, oldest first."""
    raw = reversed(broker.lrange(lane_list("llm", lane), 0, -1))
    bodies = [json.loads(base64.b64decode(json.loads(message)["body"])) for message in raw]
    return [args[0] for args, _kwargs, _embed in bodies]  # an LLM task's one argument: its job ids


@pytest.mark.parametrize("lane", ["live", "bulk"])
def test_a_follow_up_records_in_the_group_s_transaction_and_its_jobs_are_queued_after_it_commits(
    tenant: str, broker: redis.Redis, monkeypatch: pytest.MonkeyPatch, lane: Lane
) -> None:
    plain, followed = queued(tenant, "plain", "followed")
    follow_up = FollowedByOne(lane)
    enqueued_when: list[dict[str, JobStatus]] = []
    enqueue = queue.enqueue

    def noting_enqueue(task_name: str, job_ids: list[str], *args: Any) -> None:
        enqueued_when.append({job_id: stored(job_id).status for job_id in [plain, followed, *job_ids]})
        enqueue(task_name, job_ids, *args)

    monkeypatch.setattr(queue, "enqueue", noting_enqueue)

    run(Engine(follow_ups={"followed": follow_up}), [plain, followed])

    assert follow_up.seen_outside == [JobStatus.running]  # its write was not committed yet
    (child,) = children(followed)
    assert enqueued_when == [{plain: JobStatus.succeeded, followed: JobStatus.succeeded, child.id: JobStatus.queued}]
    assert messages(broker, lane) == [[child.id]]
    assert result_of(followed) == reply("followed")


def announced(notices: PubSub, job_id: str, timeout_s: float = 5.0) -> bool:
    """Whether a finished-job notice names `job_id` within `timeout_s`. The channel is the
    whole Redis server's (pub/sub ignores databases), so other processes' notices may come too."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        notice = notices.get_message(ignore_subscribe_messages=True, timeout=left)
        if notice is not None and job_id in json.loads(notice["data"])["jobs"]:
            return True
    return False


def test_a_job_recorded_by_its_follow_up_is_announced_finished_like_any_other(tenant: str, broker: redis.Redis) -> None:
    (job_id,) = queued(tenant, "announced")
    notices = broker.pubsub()
    notices.subscribe(CHANNEL)

    run(Engine(follow_ups={"announced": FollowedByOne("live")}), [job_id])

    assert announced(notices, job_id)
    notices.close()


def test_jobs_of_a_follow_up_the_queue_refuses_fail_and_the_result_stands(
    tenant: str, monkeypatch: pytest.MonkeyPatch, retries: list[RetryAsked]
) -> None:
    (job_id,) = queued(tenant, "followed")

    def broker_down(*_: Any) -> None:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(queue, "enqueue", broker_down)

    run(Engine(follow_ups={"followed": FollowedByOne("live")}), [job_id])

    assert retries == []
    assert stored(job_id).status == JobStatus.succeeded
    (child,) = children(job_id)
    assert child.status == JobStatus.failed
    assert child.error == "could not reach the queue: Connection refused"
