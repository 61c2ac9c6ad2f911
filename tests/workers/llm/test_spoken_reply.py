"""A reply generated whole and asked to be spoken, as the runner records it (the follow-up of
workers/llm/spoken_reply.py called in a transaction of its own here): on the session's
SQLite database, with espeak's built-in voices. No model server and no worker."""

import pytest
from sqlalchemy import select

from shared.db import session_scope
from shared.jobs import state
from shared.jobs.contracts import GenerationInput, GenerationResult, SpeakOptions, SynthesisInput
from shared.jobs.lanes import SYNTHESIZE_TASK
from shared.migrate import upgrade
from shared.models import Batch, Job, JobKind, JobStatus
from shared.tenants.auth import create_key, tenant_for_key
from workers.llm.spoken_reply import NOTHING_TO_SAY, SpokenReply, spoken
from workers.runner import Enqueue

CMN = SpeakOptions(voice="cmn")


@pytest.fixture(scope="module")
def tenant() -> str:
    upgrade()
    with session_scope() as session:
        return tenant_for_key(session, create_key(session, "spoken-reply-tests"))


def reply(text: str = "你好，今天天气不错。") -> GenerationResult:
    return GenerationResult(text=text, model="stand-in")


def running_reply(tenant: str, in_batch: bool = False) -> Job:
    """A generation job being worked on (started by this attempt), alone or a batch's."""
    with session_scope() as session:
        batch_id = None
        if in_batch:
            batch = Batch(tenant_id=tenant, kind=JobKind.generation, lines=1)
            session.add(batch)
            session.flush()
            batch_id = batch.id
        new_job = state.NewJob(JobKind.generation, GenerationInput(input="说点什么", speak=CMN), line=1)
        (job_id,) = state.insert_jobs(session, tenant, [new_job], batch_id=batch_id)
        job = state.start(session, job_id)
        assert job is not None
        return job


def record(job: Job, follow_up: SpokenReply, result: GenerationResult) -> Enqueue | None:
    with session_scope() as session:
        return follow_up.record(session, job, result)


def stored(job_id: str) -> Job:
    with session_scope() as session:
        return session.get_one(Job, job_id)


def children(parent_id: str) -> list[Job]:
    with session_scope() as session:
        return list(session.scalars(select(Job).where(Job.parent_id == parent_id)))


def test_a_single_request_s_reply_is_spoken_by_a_child_job_in_the_live_lane(tenant: str) -> None:
    job = running_reply(tenant)

    enqueue = record(job, SpokenReply(CMN), reply("你好，今天天气不错。"))

    (child,) = children(job.id)
    assert enqueue == Enqueue(SYNTHESIZE_TASK, "live", [child.id])
    assert child.kind == JobKind.synthesis and child.status == JobStatus.queued
    assert SynthesisInput.model_validate(child.input).voice == "cmn"
    parent = stored(job.id)
    assert parent.status == JobStatus.succeeded
    assert GenerationResult.model_validate(parent.result).speech_job_id == child.id


def test_a_batch_s_reply_is_spoken_in_the_bulk_lane(tenant: str) -> None:
    job = running_reply(tenant, in_batch=True)

    enqueue = record(job, SpokenReply(CMN), reply())

    assert enqueue is not None and enqueue.lane == "bulk"


def test_a_reply_that_cannot_be_spoken_is_recorded_with_the_reason(tenant: str) -> None:
    job = running_reply(tenant)

    enqueue = record(job, SpokenReply(SpeakOptions(voice="no-such-voice")), reply())

    assert enqueue is None and children(job.id) == []
    result = GenerationResult.model_validate(stored(job.id).result)
    assert result.speech_job_id is None and "unknown voice 'no-such-voice'" in (result.speech_error or "")


def test_an_attempt_that_no_longer_holds_the_reply_creates_no_child(tenant: str) -> None:
    job = running_reply(tenant)
    with session_scope() as session:
        assert state.succeed(session, job, reply("the other attempt's"))  # the attempt that counts

    enqueue = record(job, SpokenReply(CMN), reply("this attempt's"))

    assert enqueue is None and children(job.id) == []
    assert GenerationResult.model_validate(stored(job.id).result).text == "the other attempt's"


def test_a_reply_with_nothing_to_say_is_not_spoken_and_says_why() -> None:
    outcome = spoken(reply("  "), CMN)

    assert outcome.follow_up is None
    assert outcome.result == reply("  ").model_copy(update={"speech_error": NOTHING_TO_SAY})


def test_a_reply_not_asked_to_be_spoken_is_only_recorded() -> None:
    assert spoken(reply(), None).follow_up is None
    assert spoken(reply(), CMN).follow_up == SpokenReply(CMN)
