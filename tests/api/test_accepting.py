"""Batches accepted in a spawned process of their own (api/accepting.py), on the session's SQLite
database: the batch is stored as on the API's threads, the errors come back as raised (with
what they carry), and a process that dies costs one request a 503, not the pool."""

import asyncio
import multiprocessing
import os
import pickle
import signal
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from api.accepting import Acceptor
from shared.db import session_scope
from shared.errors import BadInput, EngineUnavailable, QuotaExceeded, RangeNotSatisfiable
from shared.jobs import cancel
from shared.jobs.accept import BatchForm
from shared.models import Batch, Job
from shared.tenants.auth import tenant_for_key

FILENAME = "accepted-apart.txt"


def form(tenant_id: str, data: bytes, voice: str = "cmn") -> BatchForm:
    return BatchForm(
        tenant_id=tenant_id,
        data=data,
        filename=FILENAME,
        script_format=None,
        kind="synthesis",
        voice=voice,
        format="wav",
        speed=1.0,
        follow_dialect=False,
        dialect_voices={},
        lane="bulk",
        callback_url=None,
    )


@pytest.fixture
def acceptor() -> Iterator[Acceptor]:
    each = Acceptor(1)  # spawned with this process's environment: the same SQLite database
    each.start()
    yield each
    each.close()
    with session_scope() as session:  # its batches leave the session's dispatcher nothing to send
        for batch in session.scalars(select(Batch).where(Batch.options["filename"].as_string() == FILENAME)):
            cancel.cancel_batch(session, batch)


@pytest.fixture
def tenant(inproc_key: str) -> str:
    with session_scope() as session:
        return tenant_for_key(session, inproc_key)


def test_a_batch_accepted_in_another_process_is_stored_with_every_line(acceptor: Acceptor, tenant: str) -> None:
    script = "\n".join(f"另一个进程里的第{i}行。" for i in range(1, 301)).encode()

    batch_id = asyncio.run(acceptor.accept(form(tenant, script)))

    with session_scope() as session:
        lines = session.scalar(select(func.count()).select_from(Job).where(Job.batch_id == batch_id))
    assert lines == 300


def test_its_errors_come_back_as_raised_and_nothing_is_stored(acceptor: Acceptor, tenant: str) -> None:
    with session_scope() as session:
        before = session.scalar(select(func.count()).select_from(Job))

    with pytest.raises(BadInput, match="no_such_voice"):
        asyncio.run(acceptor.accept(form(tenant, "一行。".encode(), voice="no_such_voice")))

    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == before


def test_errors_that_carry_more_than_a_message_keep_it_across_processes() -> None:
    quota = pickle.loads(pickle.dumps(QuotaExceeded("over the daily quota", 3600)))
    ranged = pickle.loads(pickle.dumps(RangeNotSatisfiable("past the end", 1024)))

    assert isinstance(quota, QuotaExceeded) and quota.retry_after_s == 3600 and str(quota) == "over the daily quota"
    assert isinstance(ranged, RangeNotSatisfiable) and ranged.size == 1024


def test_a_process_that_died_costs_one_request_a_503_and_the_next_is_accepted(acceptor: Acceptor, tenant: str) -> None:
    asyncio.run(acceptor.accept(form(tenant, "先来一行。".encode())))  # the process is up
    [process] = multiprocessing.active_children()
    os.kill(process.pid or 0, signal.SIGKILL)  # as the kernel's OOM killer would

    with pytest.raises(EngineUnavailable, match="try again"):
        asyncio.run(acceptor.accept(form(tenant, "死掉之后的一行。".encode())))
    batch_id = asyncio.run(acceptor.accept(form(tenant, "再来一行。".encode())))

    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Job).where(Job.batch_id == batch_id)) == 1
