import io

import pytest
import soundfile as sf

from deploy.stack import Stack
from tests.plugins.services import wait_for
from tests.voice_factory import spoken_length


def finished(client, job_id: str):  # type: ignore[no-untyped-def]
    job = client.get(f"/v1/jobs/{job_id}").json()
    return job if job["status"] in ("succeeded", "failed") else None


def test_a_text_is_spoken_by_a_worker_and_its_audio_served(stack: Stack) -> None:
    with stack.client() as api:
        r = api.post("/v1/synthesize", json={"text": "今天天气很好，我们去公园散步吧。", "voice": "cmn"})
        assert r.status_code == 202, r.text
        job = wait_for(lambda: finished(api, r.json()["id"]))
        assert job["status"] == "succeeded", job
        audio = api.get(f"/v1/jobs/{job['id']}/audio")
        assert audio.headers["content-type"] == "audio/wav"
        samples, rate = sf.read(io.BytesIO(audio.content))
        assert rate == 22050 and 1.0 < len(samples) / rate < 15


def test_a_cached_text_is_answered_at_once_without_a_worker(stack: Stack) -> None:
    body = {"text": "缓存里的这句话只合成一次。", "voice": "cmn", "format": "flac"}
    with stack.client() as api:
        first = api.post("/v1/synthesize", json=body).json()
        first_done = wait_for(lambda: finished(api, first["id"]))
        second = api.post("/v1/synthesize", json=body)
        assert second.status_code == 200
        assert second.json()["status"] == "succeeded"
        assert second.json()["result"] == {
            "cached": True,
            "duration_s": first_done["result"]["duration_s"],
            "spoken_text": "缓存里的这句话只合成一次。",
        }
        assert second.json()["attempts"] == 0  # never went through the queue
        flac = api.get(f"/v1/jobs/{second.json()['id']}/audio")
        assert flac.headers["content-type"] == "audio/flac" and flac.content[:4] == b"fLaC"


def test_cantonese_is_spoken_with_the_yue_voice(stack: Stack) -> None:
    text = "佢今日去咗街市買餸。"
    with stack.client() as api:
        r = api.post("/v1/synthesize", json={"text": text, "voice": "yue"})
        job = wait_for(lambda: finished(api, r.json()["id"]))

    assert job["status"] == "succeeded"
    # yue reads these characters as Cantonese syllables (1.9 s here), cmn as Mandarin ones (2.4 s).
    yue, cmn = spoken_length(text, "yue"), spoken_length(text, "cmn")
    assert job["result"]["duration_s"] == pytest.approx(yue, rel=0.05)
    assert abs(job["result"]["duration_s"] - yue) < abs(job["result"]["duration_s"] - cmn)


def test_another_tenant_sees_404_for_my_job(stack: Stack) -> None:
    other = stack.new_key("tenant-b")
    with stack.client() as api, stack.client(other) as intruder:
        job_id = api.post("/v1/synthesize", json={"text": "只有我能看到。"}).json()["id"]
        assert intruder.get(f"/v1/jobs/{job_id}").status_code == 404
        assert intruder.get(f"/v1/jobs/{job_id}/audio").status_code == 404


def test_a_long_poll_answers_once_the_job_has_finished(stack: Stack) -> None:
    with stack.client() as api:
        job = api.post("/v1/synthesize", json={"text": "长轮询等到这一行说完。", "voice": "cmn"}).json()
        done = api.get(f"/v1/jobs/{job['id']}", params={"wait": 30}).json()

    assert done["status"] == "succeeded" and done["result"]["duration_s"] > 0.5


def test_a_long_poll_on_a_batch_answers_at_its_next_change(stack: Stack) -> None:
    script = "\n".join(f"第{i}句，看进度。" for i in range(3)).encode()
    with stack.client() as api:
        batch = api.post("/v1/batches", files={"file": ("p.txt", script)}, data={"voice": "cmn"}).json()
        seen = [batch["counts"]]
        while not batch["done"]:
            batch = api.get(f"/v1/batches/{batch['id']}", params={"wait": 30}).json()
            seen.append(batch["counts"])

    assert batch["counts"]["succeeded"] == 3
    assert all(a != b for a, b in zip(seen, seen[1:], strict=False))  # every answer brought news
