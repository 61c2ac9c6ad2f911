"""A real Celery TTS worker speaking through Fish Speech (the stand-in), with real Redis and databases."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from deploy.stack import Stack
from tests.plugins.services import wait_for
from tests.voice_factory import create_voice, speech_clip


def finished(api, job_id: str):  # type: ignore[no-untyped-def]
    job = api.get(f"/v1/jobs/{job_id}").json()
    return job if job["status"] in ("succeeded", "failed") else None


def spoken(api, text: str, voice: str) -> tuple[dict, np.ndarray, int]:  # type: ignore[no-untyped-def, type-arg]
    r = api.post("/v1/synthesize", json={"text": text, "voice": voice})
    assert r.status_code in (200, 202), r.text
    job = wait_for(lambda: finished(api, r.json()["id"]))
    assert job["status"] == "succeeded", job
    samples, rate = sf.read(io.BytesIO(api.get(f"/v1/jobs/{job['id']}/audio").content), dtype="float32")
    return job, samples, rate


def test_a_cloned_voice_speaks_through_the_worker_at_44k(fish_stack: Stack) -> None:
    with fish_stack.client() as api:
        voice = create_voice(api, name="worker-test-voice")
        job, samples, rate = spoken(api, "今天天气很好，我们一起去公园散步吧。", voice["name"])
    assert rate == 44_100 and samples.ndim == 1
    assert 1.0 < len(samples) / rate < 15 and np.abs(samples).max() > 0.05


def test_a_voices_fixed_seed_makes_the_same_line_sound_the_same(fish_stack: Stack) -> None:
    clip = speech_clip(variant="f3")
    with fish_stack.client() as api:
        # Two library entries of one clip and one seed: different cache keys, so the engine
        # really speaks twice, and must say the line identically.
        first = create_voice(api, clip, seed=2024)
        second = create_voice(api, clip, seed=2024)
        _, a, _ = spoken(api, "同一句话每次听起来都一样。", first["id"])
        _, b, _ = spoken(api, "同一句话每次听起来都一样。", second["id"])
    assert np.array_equal(a, b)


def test_digits_are_normalised_before_synthesis_and_in_the_cache_key(fish_stack: Stack) -> None:
    with fish_stack.client() as api:
        voice = create_voice(api)["id"]
        job, _, _ = spoken(api, "会议在2024年3月5日10:30开始，门票¥12.50。", voice)
        assert job["input"]["text"] == "会议在2024年3月5日10:30开始，门票¥12.50。"  # as written
        assert job["result"]["spoken_text"] == "会议在二零二四年三月五日十点三十分开始，门票十二元五角。"
        again = api.post(
            "/v1/synthesize", json={"text": "会议在二零二四年三月五日十点三十分开始，门票十二元五角。", "voice": voice}
        )
        assert again.status_code == 200 and again.json()["result"]["cached"] is True


def test_fish_speech_has_no_default_voice(fish_stack: Stack) -> None:
    with fish_stack.client() as api:
        r = api.post("/v1/synthesize", json={"text": "没有参考录音就没有声音。"})
    assert r.status_code == 400 and "no default voice" in r.json()["error"]["message"]


def test_a_cloned_voice_on_the_espeak_stack_is_refused(sqlite_stack: Stack) -> None:
    with sqlite_stack.client() as api:
        voice = create_voice(api)["id"]
        r = api.post("/v1/synthesize", json={"text": "不能克隆。", "voice": voice})
    assert r.status_code == 400 and "cannot clone" in r.json()["error"]["message"], r.text


def test_a_library_voice_marked_with_a_dialect_speaks_that_dialects_lines(fish_stack: Stack) -> None:
    with fish_stack.client() as api:
        default = create_voice(api, name="narrator-default")
        cantonese = create_voice(api, name="narrator-yue", dialect="粤语")
        script = "佢哋今日去咗街市。\n我们明天上午开会。\n".encode()
        r = api.post(
            "/v1/batches",
            files={"file": ("mixed.txt", script)},
            data={"voice": default["name"], "follow_dialect": "true"},
        )
        assert r.status_code == 202, r.text
        lines = api.get(f"/v1/batches/{r.json()['id']}/jobs").json()
        assert [j["input"]["voice"] for j in lines] == [cantonese["id"], default["name"]]
        for job in lines:
            assert wait_for(lambda job=job: finished(api, job["id"]))["status"] == "succeeded"
