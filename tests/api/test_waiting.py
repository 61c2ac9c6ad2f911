"""Waiting for jobs: woken by the workers' notices (not by looking again), and many waiting
requests hold neither threads nor connections from the other routes."""

import asyncio
import time

import httpx
import pytest

from api import waiting
from api.waiting import Finished
from deploy.stack import Stack
from shared.config import get_settings
from shared.jobs.notify import publish_finished


def test_a_waiter_is_woken_by_the_notice_naming_its_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waiting, "_LOOK_EVERY_S", 600.0)  # it would not look again by itself in time
    looks: list[float] = []

    async def scenario() -> str | None:
        finished = Finished(get_settings().redis_url)
        finished.start()
        await asyncio.sleep(0.5)  # subscribed

        async def look() -> str | None:
            looks.append(time.monotonic())
            return "done" if len(looks) > 1 else None

        async def finish_later() -> None:
            await asyncio.sleep(0.2)
            publish_finished(["job_a"], ["batch_x"])

        task = asyncio.create_task(finish_later())
        found = await finished.wait("batch_x", timeout_s=30, look=look)
        await task
        await finished.stop()
        return found

    assert asyncio.run(scenario()) == "done"
    assert len(looks) == 2  # once at the start, once when the notice came


def test_many_waiting_requests_do_not_stall_the_other_routes(idle_stack: Stack) -> None:
    with idle_stack.client() as api:
        queued = api.post("/v1/synthesize", json={"text": "没有工人，这一行一直在排队。", "voice": "cmn"}).json()
    order: list[str] = []

    async def scenario() -> list[int]:
        limits = httpx.Limits(max_connections=600, max_keepalive_connections=0)
        headers = {"Authorization": f"Bearer {idle_stack.key}"}
        async with httpx.AsyncClient(base_url=idle_stack.api_url, headers=headers, limits=limits, timeout=60) as api:

            async def wait() -> int:
                r = await api.get(f"/v1/jobs/{queued['id']}", params={"wait": 8})
                order.append("waiter")
                return r.status_code

            waiters = [asyncio.create_task(wait()) for _ in range(500)]
            await asyncio.sleep(2)  # they are all waiting now
            other = await api.get(f"/v1/jobs/{queued['id']}")
            listed = await api.get("/v1/voices")
            order.append("other routes")
            assert other.status_code == 200 and listed.status_code == 200
            return list(await asyncio.gather(*waiters))

    statuses = asyncio.run(scenario())

    assert statuses == [200] * 500
    assert order.index("other routes") == 0  # answered while all 500 were still waiting
