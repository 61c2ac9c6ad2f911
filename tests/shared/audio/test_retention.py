"""Retention of audio on SQLite and on Postgres: when a snippet expires, what keeps it, and the
sweep that deletes it in chunks. The clock is moved by giving the sweep a later `now`."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from deploy.stack import REPO
from shared.audio import retention
from shared.audio.snippets import NewSnippet, store_snippet
from shared.config import Settings, get_settings
from shared.db import make_engine
from shared.jobs import state
from shared.jobs.contracts import ScriptLine, SynthesisInput, SynthesisResult
from shared.jobs.state import NewJob
from shared.jobs.synthesis import synthesis_jobs
from shared.models import Batch, Job, JobKind, Snippet, utcnow
from shared.tenants.auth import create_key, tenant_for_key

DAYS = timedelta(days=1)


@pytest.fixture
def sessions(database_url: str) -> Iterator[Callable[[], Session]]:
    engine = make_engine(database_url)
    yield lambda: Session(engine, expire_on_commit=False)
    engine.dispose()


def settings(**changes: object) -> Settings:
    return get_settings().model_copy(update={"snippet_retention_days": 30.0, **changes})


def new_tenant(s: Session, name: str) -> str:
    return tenant_for_key(s, create_key(s, name))


def spoken(s: Session, tenant: str, text: str, audio: bytes = b"fLaC" + b"\0" * 96) -> str:
    """A line as a worker would leave it in the cache; its key."""
    key = synthesis_jobs(s, tenant, [ScriptLine(1, text)], "cmn")[0].snippet_key
    assert key is not None
    store_snippet(s, NewSnippet(tenant, key, text, "cmn", "espeak", audio, 22050, 1.0))
    return key


def line(key: str, text: str = "一句", number: int = 1, done: bool = True) -> NewJob:
    result = SynthesisResult(duration_s=1.0, cached=True) if done else None
    return NewJob(JobKind.synthesis, SynthesisInput(text=text, voice="cmn"), number, snippet_key=key, result=result)


def batch_of(s: Session, tenant: str, *keys: str) -> str:
    batch = Batch(tenant_id=tenant, kind=JobKind.synthesis, lines=len(keys))
    s.add(batch)
    s.flush()
    state.insert_jobs(s, tenant, [line(key, number=n) for n, key in enumerate(keys, 1)], batch_id=batch.id)
    return batch.id


def stored(s: Session, key: str) -> Snippet | None:
    s.expire_all()
    return s.scalars(select(Snippet).where(Snippet.key == key)).first()


def test_batch_and_single_job_audio_expires_a_retention_after_it_ended_and_precomputed_audio_stays(
    sessions: Callable[[], Session],
) -> None:
    with sessions() as s:
        tenant = new_tenant(s, "ret-basic")
        in_batch, single, precomputed = (
            spoken(s, tenant, text) for text in ("批里的一句。", "单独一句。", "预先合成。")
        )
        batch_id = batch_of(s, tenant, in_batch)
        state.insert_jobs(s, tenant, [line(single)])
        precompute = line(precomputed)
        state.insert_jobs(s, tenant, [precompute])
        retention.pin(s, tenant, [precompute.id])
        s.commit()

    early = retention.sweep(sessions, settings(), now=utcnow() + 29 * DAYS, tenant_id=tenant)
    late = retention.sweep(sessions, settings(), now=utcnow() + 31 * DAYS, tenant_id=tenant)
    much_later = retention.sweep(sessions, settings(), now=utcnow() + 400 * DAYS, tenant_id=tenant)

    assert early.rows == 0  # (and the batch was seen to end: its finished_at, below)
    assert late.rows == 2 and late.bytes == 2 * 100
    assert much_later.rows == 0
    with sessions() as s:
        assert stored(s, in_batch) is None and stored(s, single) is None
        kept = stored(s, precomputed)
        assert kept is not None and kept.expires_at is None  # kept until deleted
        assert s.get_one(Batch, batch_id).finished_at is not None


def test_the_sweep_deletes_expired_rows_in_chunks_and_leaves_the_rest(sessions: Callable[[], Session]) -> None:
    with sessions() as s:
        tenant = new_tenant(s, "ret-chunks")
        expired = [spoken(s, tenant, f"过期的第{n}句。") for n in range(5)]
        fresh = [spoken(s, tenant, f"还新的第{n}句。") for n in range(2)]
        state.insert_jobs(s, tenant, [line(key) for key in expired + fresh])
        # The fresh two were spoken (and their jobs finished) 15 days after the others.
        s.execute(update(Snippet).where(Snippet.key.in_(fresh)).values(expires_at=utcnow() + 45 * DAYS))
        s.execute(update(Job).where(Job.snippet_key.in_(fresh)).values(finished_at=utcnow() + 15 * DAYS))
        s.commit()

    swept = retention.sweep(sessions, settings(snippet_sweep_chunk=2), now=utcnow() + 31 * DAYS, tenant_id=tenant)

    assert (swept.rows, swept.chunks, swept.finished) == (5, 3, True)
    with sessions() as s:
        assert [stored(s, key) for key in expired] == [None] * 5
        assert all(stored(s, key) is not None for key in fresh)


def test_a_snippet_a_newer_batch_reused_lives_on_with_that_batch(sessions: Callable[[], Session]) -> None:
    with sessions() as s:
        tenant = new_tenant(s, "ret-reuse")
        key = spoken(s, tenant, "两批都用的一句。")
        first = batch_of(s, tenant, key)
        s.commit()
    retention.sweep(sessions, settings(), tenant_id=tenant)  # sees the first batch end
    with sessions() as s:
        # The clock moves 25 days: the first batch ended then, its snippet's time is 5 days away.
        s.execute(update(Batch).where(Batch.id == first).values(finished_at=utcnow() - 25 * DAYS))
        s.execute(update(Snippet).where(Snippet.key == key).values(expires_at=utcnow() + 5 * DAYS))
        again = synthesis_jobs(s, tenant, [ScriptLine(1, "两批都用的一句。")], "cmn")
        assert again[0].result is not None  # a cache hit: a succeeded job pointing at the same key
        second = Batch(tenant_id=tenant, kind=JobKind.synthesis, lines=1)
        s.add(second)
        s.flush()
        state.insert_jobs(s, tenant, again, batch_id=second.id)
        s.commit()

    retention.sweep(sessions, settings(), tenant_id=tenant)  # sees the second batch end
    kept = retention.sweep(sessions, settings(), now=utcnow() + 10 * DAYS, tenant_id=tenant)
    gone = retention.sweep(sessions, settings(), now=utcnow() + 31 * DAYS, tenant_id=tenant)

    assert (kept.rows, kept.looked_again) == (0, 1) and gone.rows == 1


def test_reuse_near_its_time_holds_a_snippet_for_the_retention_from_now(sessions: Callable[[], Session]) -> None:
    with sessions() as s:
        tenant = new_tenant(s, "ret-hold")
        key = spoken(s, tenant, "快到期的一句。")
        s.execute(update(Snippet).where(Snippet.key == key).values(expires_at=utcnow() + timedelta(minutes=5)))
        s.commit()
        found = retention.reuse(s, tenant, [key], settings())
        s.commit()
        snippet = stored(s, key)

    assert found == {key: 1.0}
    assert snippet is not None and snippet.expires_at is not None
    assert snippet.expires_at > utcnow() + 29 * DAYS  # read back aware, SQLite too (models.UtcDateTime)


def test_gc_dry_run_says_what_it_would_free_and_deletes_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    with Session(engine) as s:
        tenant = new_tenant(s, "ret-gc")
        keys = [spoken(s, tenant, f"早就用完的第{n}句。") for n in range(3)]
        state.insert_jobs(s, tenant, [line(key) for key in keys])
        # Spoken and used 40 days ago.
        s.execute(update(Job).where(Job.snippet_key.in_(keys)).values(finished_at=utcnow() - 40 * DAYS))
        s.execute(update(Snippet).where(Snippet.key.in_(keys)).values(expires_at=utcnow() - 10 * DAYS))
        s.commit()
    env = os.environ | {"VOXQ_DATABASE_URL": database_url, "COLUMNS": "200"}

    def gc(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "cli", "gc", *args]
        return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)

    dry = gc("--dry-run")
    with Session(engine) as s:
        left_after_dry = len(s.scalars(select(Snippet.id).where(Snippet.key.in_(keys))).all())
    real = gc()
    with Session(engine) as s:
        left = len(s.scalars(select(Snippet.id).where(Snippet.key.in_(keys))).all())
    engine.dispose()

    assert dry.returncode == 0, dry.stderr
    assert "would free: 3 snippets" in dry.stdout and left_after_dry == 3
    assert real.returncode == 0, real.stderr
    assert "freed: 3 snippets" in real.stdout and left == 0


@pytest.mark.parametrize("sent", [False, True])
def test_a_batch_line_holds_a_snippet_once_it_is_sent_not_while_it_waits(
    sessions: Callable[[], Session], sent: bool
) -> None:
    with sessions() as s:
        tenant = new_tenant(s, f"ret-waiting-{sent}")
        key = spoken(s, tenant, "等着的一句。")
        s.execute(update(Snippet).where(Snippet.key == key).values(expires_at=utcnow() - DAYS))
        batch = Batch(tenant_id=tenant, kind=JobKind.synthesis, lines=1)
        s.add(batch)
        s.flush()
        state.insert_jobs(s, tenant, [line(key, done=False)], batch_id=batch.id, dispatched=sent)
        s.commit()

    swept = retention.sweep(sessions, settings(), tenant_id=tenant)

    # A waiting line has used no audio: its worker looks in the cache again when it is sent.
    assert (swept.rows, swept.looked_again) == ((0, 1) if sent else (1, 0))


def test_the_holders_of_a_snippet_are_read_by_its_index_not_by_every_job(database_url: str) -> None:
    engine = make_engine(database_url)
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "GROUP BY jobs.tenant_id, jobs.snippet_key" in statement:
            statements.append((statement, parameters))

    with Session(engine) as s:
        tenant = new_tenant(s, "ret-plan")
        key = spoken(s, tenant, "看计划的一句。")
        s.execute(update(Snippet).where(Snippet.key == key).values(expires_at=utcnow() - DAYS))
        s.commit()
    event.listen(engine, "before_cursor_execute", seen)
    retention.sweep(lambda: Session(engine), settings(), tenant_id=tenant)
    event.remove(engine, "before_cursor_execute", seen)
    (statement, parameters), postgres = statements[-1], engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if postgres:
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: the plan says what it could use
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters))
    engine.dispose()

    assert "ix_jobs_snippet_key" in plan, plan
