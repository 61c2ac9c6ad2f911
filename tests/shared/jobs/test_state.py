"""Storage on SQLite and on Postgres: migrations, job transitions, the snippet cache."""

import time
from datetime import timedelta

from sqlalchemy import event, inspect, select, text, update
from sqlalchemy.orm import Session

from shared.audio.snippets import NewSnippet, cached_durations, key_prefix, snippet_key, store_snippet
from shared.db import make_engine
from shared.jobs import state
from shared.jobs.contracts import DialectAnswer, SynthesisInput, SynthesisResult
from shared.models import Job, JobKind, JobStatus, Snippet, utcnow
from shared.tenants.auth import create_key, tenant_for_key
from shared.voices.resolve import VoiceSpec


def session_for(url: str) -> Session:
    return Session(make_engine(url), expire_on_commit=False)


def test_migrations_create_every_table(database_url: str) -> None:
    names = set(inspect(make_engine(database_url)).get_table_names())
    assert {"tenants", "api_keys", "voices", "snippets", "batches", "jobs", "alembic_version"} <= names


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 1234


def _job(s: Session, tenant: str, kind: JobKind = JobKind.synthesis, text: str = "你好") -> Job:
    job = Job(tenant_id=tenant, kind=kind, input={"text": text})
    s.add(job)
    s.commit()
    return job


def _answer(label: str) -> DialectAnswer:
    return DialectAnswer.model_validate(
        {"label": label, "confidence": 0.9, "decided_by": "cpu", "reason": "test", "evidence": [], "scores": {}}
    )


SPOKEN = SynthesisResult(duration_s=1.5, cached=False)


def test_a_job_moves_queued_running_succeeded_and_then_never_again(database_url: str) -> None:
    with session_for(database_url) as s:
        job = _job(s, tenant_for_key(s, create_key(s, "t1")))
        attempt = state.start(s, job.id, "tts-1@host", lease_s=30)
        s.commit()
        assert attempt is not None and attempt.status == JobStatus.running and attempt.worker == "tts-1@host"
        assert state.succeed(s, attempt, SPOKEN)
        s.commit()
        assert not state.fail(s, attempt, "late duplicate")  # terminal: unchanged
        assert state.start(s, job.id) is None
        s.commit()
        s.expire_all()
        stored = s.get_one(Job, job.id)
        assert stored.status == JobStatus.succeeded and stored.result == {
            "duration_s": 1.5,
            "cached": False,
            "spoken_text": None,
        }
        assert stored.attempts == 1 and stored.lease_expires_at is None


def test_a_group_of_jobs_starts_and_finishes_together_skipping_finished_and_unknown_ones(database_url: str) -> None:
    with session_for(database_url) as s:
        tenant = tenant_for_key(s, create_key(s, "t-group"))
        ids = [_job(s, tenant, JobKind.dialect, f"第{i}句").id for i in range(4)]
        early = state.start(s, ids[1])
        assert early is not None and state.succeed(s, early, _answer("粤语"))  # finished before the group runs
        s.commit()

        started = state.start_many(s, ["job_unknown", *reversed(ids)])
        s.commit()
        assert [job.id for job in started] == [ids[3], ids[2], ids[0]]  # the order asked, finished one left out
        by_id = {job.id: job for job in started}
        assert state.succeed_many(s, [(by_id[ids[0]], _answer("普通话")), (early, _answer("上海话"))]) == 1
        assert state.fail_many(s, [(by_id[ids[2]], "bad input"), (by_id[ids[3]], "bad too")]) == 2
        assert state.fail_many(s, [(by_id[ids[3]], "a late duplicate")]) == 0
        s.commit()
        s.expire_all()
        stored = {job_id: s.get_one(Job, job_id) for job_id in ids}

    assert [stored[i].status for i in ids] == [
        JobStatus.succeeded,
        JobStatus.succeeded,
        JobStatus.failed,
        JobStatus.failed,
    ]
    assert stored[ids[0]].result["label"] == "普通话" and stored[ids[1]].result["label"] == "粤语"  # type: ignore[index]
    assert stored[ids[3]].error == "bad too" and stored[ids[3]].result is None
    assert [stored[i].attempts for i in ids] == [1, 1, 1, 1]


def test_a_job_under_a_live_lease_is_not_started_twice(database_url: str) -> None:
    with session_for(database_url) as s:
        job = _job(s, tenant_for_key(s, create_key(s, "t-lease")))
        assert state.start(s, job.id, "tts-1@a", lease_s=30) is not None
        s.commit()

        assert state.start(s, job.id, "tts-2@b", lease_s=30) is None  # a second delivery of its message
        assert state.requeue_expired(s) == []


def test_a_lost_workers_job_is_queued_again_and_its_late_outcome_changes_nothing(database_url: str) -> None:
    with session_for(database_url) as s:
        job = _job(s, tenant_for_key(s, create_key(s, "t-lost")))
        lost = state.start(s, job.id, "tts-1@a", lease_s=0.01)
        s.commit()
        s.expunge_all()  # each attempt is its own worker's copy of the row
        time.sleep(0.05)
        assert lost is not None and state.renew(s, [lost], 30) == 1  # still its while nobody took it
        s.execute(update(Job).where(Job.id == job.id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()

        assert state.requeue_expired(s) == [(JobKind.synthesis, job.id, None)]
        s.commit()
        newer = state.start(s, job.id, "tts-2@b", lease_s=30)
        s.commit()
        s.expunge_all()
        assert newer is not None and newer.attempts == 2
        assert state.renew(s, [lost], 30) == 0 and not state.succeed(s, lost, SPOKEN)  # the late finisher
        assert state.succeed(s, newer, SynthesisResult(duration_s=2.0, cached=False))
        assert not state.fail(s, lost, "late failure")
        s.commit()
        s.expire_all()
        stored = s.get_one(Job, job.id)

    assert stored.status == JobStatus.succeeded and stored.result == {
        "duration_s": 2.0,
        "cached": False,
        "spoken_text": None,
    }
    assert stored.worker == "tts-2@b" and stored.attempts == 2


def test_a_released_job_is_queued_without_a_lease(database_url: str) -> None:
    with session_for(database_url) as s:
        job = _job(s, tenant_for_key(s, create_key(s, "t-release")))
        attempt = state.start(s, job.id, "tts-1@a")
        assert attempt is not None and state.release(s, [attempt]) == 1
        s.commit()
        s.expire_all()
        stored = s.get_one(Job, job.id)

    assert stored.status == JobStatus.queued and stored.lease_expires_at is None and stored.worker is None


def test_snippets_are_content_addressed_and_stored_once(database_url: str) -> None:
    voice = VoiceSpec(name="cmn")
    key = snippet_key(key_prefix(voice, "espeak"), "你好")
    assert key == snippet_key(key_prefix(VoiceSpec(name="cmn"), "espeak"), "你好")
    assert key != snippet_key(key_prefix(voice, "espeak"), "你好。")
    assert key != snippet_key(key_prefix(VoiceSpec(name="yue"), "espeak"), "你好")
    assert key != snippet_key(key_prefix(voice, "fish_speech"), "你好")
    assert key != snippet_key(key_prefix(VoiceSpec(name="cmn", speed=1.5), "espeak"), "你好")
    cloned = VoiceSpec(name="v1", reference_sha256="a", seed=1)
    assert key != snippet_key(key_prefix(cloned, "fish_speech"), "你好")
    on_s1 = snippet_key(key_prefix(cloned, "fish_speech", "openaudio-s1-mini"), "你好")
    assert on_s1 != snippet_key(key_prefix(cloned, "fish_speech", "fish-speech-1.5"), "你好")
    with session_for(database_url) as s:
        tenant = tenant_for_key(s, create_key(s, "t2"))
        snippet = NewSnippet(
            tenant_id=tenant,
            key=key,
            text="你好",
            voice="cmn",
            engine="espeak",
            audio=b"fLaC...",
            sample_rate=22050,
            duration_s=1.0,
        )
        store_snippet(s, snippet)
        store_snippet(s, snippet)  # a second worker racing on the same line
        s.commit()
        assert len(s.scalars(select(Snippet).where(Snippet.key == key)).all()) == 1
        assert cached_durations(s, tenant, [key, "other"]) == {key: 1.0}
        other_tenant = tenant_for_key(s, create_key(s, "t3"))
        assert cached_durations(s, other_tenant, [key]) == {}


def test_status_counts_cover_every_state(database_url: str) -> None:
    with session_for(database_url) as s:
        tenant = tenant_for_key(s, create_key(s, "t4"))
        from shared.models import Batch

        batch = Batch(tenant_id=tenant, kind=JobKind.synthesis, lines=3)
        s.add(batch)
        s.flush()
        s.add_all(
            [
                Job(tenant_id=tenant, batch_id=batch.id, kind=JobKind.synthesis, status=st)
                for st in (JobStatus.queued, JobStatus.failed, JobStatus.failed)
            ]
        )
        s.commit()
        assert state.status_counts(s, batch.id) == {
            "queued": 1,
            "running": 0,
            "succeeded": 0,
            "failed": 2,
            "cancelled": 0,
        }


def test_ids_made_later_sort_later_so_a_batch_goes_to_the_edge_of_the_index() -> None:
    from shared.models import new_id

    first = new_id("job")
    time.sleep(0.002)
    later = [new_id("job") for _ in range(1000)]

    assert all(first < other for other in later)
    assert len(set(later)) == 1000 and all(len(i) == 36 and i.startswith("job_") for i in later)


def test_the_reconciler_finds_lost_work_by_indexes_that_hold_no_waiting_line(database_url: str) -> None:
    """requeue_expired and resend_lost read ix_jobs_status_lease and ix_jobs_status_dispatched,
    which hold only running jobs and sent-but-not-started ones (migration 0013): a batch's
    waiting lines are in neither."""
    engine = make_engine(database_url)
    statements: list[tuple[str, object]] = []

    def seen(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        statements.append((statement, parameters))

    with Session(engine) as s:
        tenant = tenant_for_key(s, create_key(s, "plan"))
        state.insert_jobs(s, tenant, [state.NewJob(JobKind.synthesis, SynthesisInput(text="你好", voice="cmn"))])
        s.commit()
        event.listen(engine, "before_cursor_execute", seen)
        state.requeue_expired(s)
        state.resend_lost(s, older_than_s=30, limit=10)
        event.remove(engine, "before_cursor_execute", seen)
        s.rollback()
    postgres = engine.dialect.name == "postgresql"
    plans = []
    with engine.connect() as conn:
        if postgres:
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: the plan says what it could use
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        for statement, parameters in statements[:2]:
            plans.append("\n".join(str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters)))  # type: ignore[arg-type]
        catalog = "SELECT indexdef FROM pg_indexes" if postgres else "SELECT sql FROM sqlite_master"
        definitions = [
            conn.exec_driver_sql(f"{catalog} WHERE {'indexname' if postgres else 'name'} = '{name}'").scalar_one()
            for name in ("ix_jobs_status_lease", "ix_jobs_status_dispatched")
        ]
    engine.dispose()
    assert all(" WHERE " in definition for definition in definitions), definitions
    assert "ix_jobs_status_lease" in plans[0], plans[0]
    assert "ix_jobs_status_dispatched" in plans[1], plans[1]
