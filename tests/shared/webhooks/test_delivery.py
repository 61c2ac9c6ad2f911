"""Webhooks and cancelling with the whole system: the API's reconciler fires signed events and
its sender POSTs them to a real receiver on this machine, tries again after a failure, and lists
every attempt; a sender process of its own (`voxq worker webhooks`) cuts a trickling receiver at
the deadline, reads little of a huge answer and sends other tenants' webhooks meanwhile; a batch
cancelled while a real worker speaks it stops starting lines, keeps what it finished, and ends as
cancelled."""

import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import soundfile as sf

from deploy.stack import Stack, sqlite_url, start_stack
from tests.memory import memory
from tests.plugins.services import wait_for
from tests.webhook_receiver import Receiver, receiver_process, verify, webhook_receiver

MiB = 1024 * 1024


def secret_of(api: httpx.Client) -> str:
    r = api.post("/v1/webhook-secret")
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


def events(receiver: Receiver, secret: str) -> list[dict]:  # type: ignore[type-arg]
    for request in receiver.received:
        assert verify(secret, request.headers, request.body), request.headers
        assert abs(int(request.headers["x-voxqueue-timestamp"]) - time.time()) < 60
    return [json.loads(request.body) for request in receiver.received]


def test_a_finished_batch_is_posted_signed_and_tried_again_after_a_500(webhook_stack: Stack) -> None:
    with webhook_stack.client() as api, webhook_receiver([500, 200]) as receiver:
        secret = secret_of(api)
        script = "春天来了。\n小明在家里看书。\n".encode()
        data = {"voice": "cmn", "callback_url": f"{receiver.url}/hooks/voxq"}
        batch = api.post("/v1/batches", files={"file": ("a.txt", script)}, data=data).json()

        wait_for(lambda: len(receiver.received) >= 2, timeout=90)
        deliveries = wait_for(
            lambda: (d := api.get(f"/v1/batches/{batch['id']}/deliveries").json())[0]["state"] == "delivered" and d
        )

    first, second = events(receiver, secret)
    assert first == second  # the same event, retried
    assert receiver.received[0].path == "/hooks/voxq"
    assert receiver.received[0].headers["x-voxqueue-event-id"] == first["event_id"] == deliveries[0]["id"]
    assert (first["type"], first["id"], first["status"], first["lines"]) == (
        "batch.finished",
        batch["id"],
        "succeeded",
        2,
    )
    assert first["counts"] == {"queued": 0, "running": 0, "succeeded": 2, "failed": 0, "cancelled": 0}
    [delivery] = deliveries
    attempts = [(a["attempt"], a["status_code"]) for a in delivery["attempts"]]
    assert attempts == [(1, 500), (2, 200)]
    assert "500" in delivery["attempts"][0]["error"] and delivery["attempts"][1]["error"] is None
    assert delivery["finished_at"] is not None and delivery["next_attempt_at"] is None


def test_a_single_job_posts_its_own_event(webhook_stack: Stack) -> None:
    with webhook_stack.client() as api, webhook_receiver() as receiver:
        secret = secret_of(api)
        job = api.post(
            "/v1/synthesize", json={"text": "单独一句。", "voice": "cmn", "callback_url": receiver.url}
        ).json()

        wait_for(lambda: receiver.received, timeout=60)
        [event] = events(receiver, secret)
        [delivery] = wait_for(lambda: (d := api.get(f"/v1/jobs/{job['id']}/deliveries").json())[0]["attempts"] and d)

    assert (event["type"], event["id"], event["status"]) == ("job.finished", job["id"], "succeeded")
    assert delivery["state"] == "delivered" and delivery["attempts"][0]["status_code"] == 200


def speak_with_callback(api: httpx.Client, url: str) -> str:
    r = api.post("/v1/synthesize", json={"text": "一句话。", "voice": "cmn", "callback_url": url})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def delivery_of(api: httpx.Client, job_id: str) -> dict:  # type: ignore[type-arg]
    [delivery] = api.get(f"/v1/jobs/{job_id}/deliveries").json()
    return delivery  # type: ignore[no-any-return]


def in_flight(delivery: dict) -> bool:  # type: ignore[type-arg]
    """Claimed by a sender and not yet recorded: its next attempt is the claim's lease's end."""
    leased = delivery["next_attempt_at"] and datetime.fromisoformat(delivery["next_attempt_at"]) > datetime.now(
        UTC
    ) + timedelta(seconds=30)
    return bool(delivery["state"] == "pending" and not delivery["attempts"] and leased)


def test_a_sender_process_cuts_a_trickle_at_the_deadline_reads_little_of_a_huge_answer_and_sends_others_meanwhile(
    tmp_path: Path,
) -> None:
    deadline_s = 8.0
    env = {
        "VOXQ_WEBHOOK_ALLOW_PRIVATE": "1",
        "VOXQ_RECONCILE_EVERY_S": "0.5",
        "VOXQ_WEBHOOK_BACKOFF_S": "600",  # no second attempt within the test
        "VOXQ_WEBHOOK_DEADLINE_S": str(deadline_s),
        "VOXQ_WEBHOOK_POLL_S": "0.2",
        "VOXQ_WEBHOOK_SEND_BESIDE_RECONCILER": "0",  # the API's reconciler only fires: the process sends
    }
    stack = start_stack(tmp_path, sqlite_url(tmp_path), tts_workers=1, **env)
    try:
        sending = stack.start_worker("webhooks", 4)
        log = tmp_path / f"worker-webhooks-{len(stack.processes) - 1}.log"
        wait_for(lambda: log.exists() and "webhook sender:" in log.read_text(), timeout=30)
        started_with = memory(sending.pid, "VmRSS")
        with (
            receiver_process(trickle_s=0.3) as (trickling, _),
            receiver_process(500, answer_bytes=1000 * MiB) as (huge, _),
            webhook_receiver() as healthy,
            stack.client() as stalls,
            stack.client(stack.new_key("tenant-huge-answer")) as answered_huge,
            stack.client(stack.new_key("tenant-healthy")) as healthy_tenant,
        ):
            for api in (stalls, answered_huge, healthy_tenant):
                secret_of(api)
            stalled_job = speak_with_callback(stalls, trickling)
            huge_job = speak_with_callback(answered_huge, huge)
            wait_for(lambda: in_flight(delivery_of(stalls, stalled_job)), timeout=60)

            healthy_job = speak_with_callback(healthy_tenant, healthy.url)
            wait_for(lambda: delivery_of(healthy_tenant, healthy_job)["state"] == "delivered", timeout=60)
            stalled_meanwhile = delivery_of(stalls, stalled_job)

            stalled = wait_for(lambda: (d := delivery_of(stalls, stalled_job))["attempts"] and d, timeout=30)
            answered = wait_for(lambda: (d := delivery_of(answered_huge, huge_job))["attempts"] and d, timeout=30)
        peak = memory(sending.pid, "VmHWM")
        sending.terminate()
        stopped = sending.wait(timeout=deadline_s + 10)
    finally:
        stack.stop()

    assert in_flight(stalled_meanwhile)  # the healthy tenant's webhook went while the trickle went on
    [cut] = stalled["attempts"]
    assert cut["status_code"] is None and "cut off at the deadline" in cut["error"]
    assert deadline_s * 1000 <= cut["duration_ms"] < (deadline_s + 2) * 1000
    [truncated] = answered["attempts"]
    assert truncated["status_code"] == 500 and truncated["error"].startswith("answered 500: xxxx")
    assert truncated["error"].endswith("[truncated]") and truncated["duration_ms"] < 2000
    assert peak - started_with < 100 * MiB, f"the sender grew {(peak - started_with) / MiB:.0f} MiB"
    assert stopped == 0  # SIGTERM: it ended its attempts and stopped


def test_a_batch_cancelled_mid_way_starts_no_more_lines_and_keeps_what_it_spoke(webhook_stack: Stack) -> None:
    lines = 200
    script = "\n".join(f"第{i}行：今天的天气不错，我们出去走走吧。" for i in range(lines)).encode()
    with webhook_stack.client() as api, webhook_receiver() as receiver:
        secret = secret_of(api)
        data = {"voice": "cmn", "callback_url": receiver.url}
        batch = api.post("/v1/batches", files={"file": ("long.txt", script)}, data=data).json()
        wait_for(lambda: api.get(f"/v1/batches/{batch['id']}").json()["counts"]["succeeded"] >= 2, timeout=60)
        other_tenant = webhook_stack.new_key("tenant-cancel-other")
        with webhook_stack.client(other_tenant) as other:
            assert other.post(f"/v1/batches/{batch['id']}/cancel").status_code == 404

        r = api.post(f"/v1/batches/{batch['id']}/cancel")

        assert r.status_code == 200, r.text
        assert r.json()["counts"]["cancelled"] > lines // 2
        ended = wait_for(lambda: (b := api.get(f"/v1/batches/{batch['id']}").json())["done"] and b, timeout=60)
        counts = ended["counts"]
        assert ended["status"] == "cancelled" and counts["failed"] == 0
        assert counts["succeeded"] + counts["cancelled"] == lines and counts["succeeded"] >= 2
        time.sleep(2)  # a worker that took a cancelled line's message would have started it by now
        assert api.get(f"/v1/batches/{batch['id']}").json()["counts"] == counts
        cancelled = api.get(f"/v1/batches/{batch['id']}/jobs", params={"status": "cancelled", "limit": 1000}).json()
        assert len(cancelled) == counts["cancelled"]
        assert all(j["attempts"] == 0 and j["started_at"] is None for j in cancelled)
        # What was spoken is kept: each line's audio, and the finished lines as a zip.
        spoken = api.get(f"/v1/batches/{batch['id']}/jobs", params={"status": "succeeded", "limit": 1000}).json()
        audio = api.get(f"/v1/jobs/{spoken[0]['id']}/audio")
        assert audio.status_code == 200 and sf.info(io.BytesIO(audio.content)).duration > 0.5
        archive = zipfile.ZipFile(
            io.BytesIO(api.get(f"/v1/batches/{batch['id']}/audio", params={"output": "zip"}).content)
        )
        assert len(archive.namelist()) == counts["succeeded"]
        assert api.get(f"/v1/batches/{batch['id']}/audio").status_code == 409
        # The batch has ended: its webhook says cancelled.
        wait_for(lambda: receiver.received, timeout=30)
        [event] = events(receiver, secret)
    assert (event["id"], event["status"], event["counts"]) == (batch["id"], "cancelled", counts)
