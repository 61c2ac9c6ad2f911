"""Telephone formats (G.711 at 8 kHz) from every route that serves audio, spoken by real workers."""

import io
import uuid
import zipfile

import httpx
import numpy as np
import pytest
import soundfile as sf

from deploy.stack import Stack
from shared.audio.telephony import trim_silence
from shared.config import get_settings
from tests.plugins.services import wait_for
from tests.shared.g711 import band_energy_db, decoded

PROMPT = "您好，欢迎致电客服中心，请按一号键。"


def finished(api: httpx.Client, job_id: str) -> dict | None:  # type: ignore[type-arg]
    job = api.get(f"/v1/jobs/{job_id}").json()
    return job if job["status"] in ("succeeded", "failed") else None


def trimmed_s(wav: bytes) -> float:
    """How long the line's own audio is once its silent ends are trimmed as the settings say."""
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    settings = get_settings()
    return len(trim_silence(samples, rate, settings.trim_silence_db, settings.trim_silence_margin_ms)) / rate


def assert_a_telephone_prompt(data: bytes, fmt: str, wav: bytes) -> None:
    samples, rate = decoded(data, fmt)
    assert rate == 8000
    assert len(samples) / rate == pytest.approx(trimmed_s(wav), abs=0.002)
    assert np.abs(samples).max() > 0.1
    assert band_energy_db(samples, rate, 300, 3400) > -3  # speech, within the telephone band


@pytest.fixture(scope="module")
def spoken_job(sqlite_stack: Stack) -> dict:  # type: ignore[type-arg]
    """A prompt asked for in a telephone format, spoken by a worker."""
    with sqlite_stack.client() as api:
        r = api.post("/v1/synthesize", json={"text": PROMPT, "voice": "cmn", "format": "wav_ulaw_8k"})
        assert r.status_code == 202, r.text
        job = wait_for(lambda: finished(api, r.json()["id"]))
    assert job["status"] == "succeeded", job
    return job


@pytest.mark.parametrize("fmt", [None, "wav_ulaw_8k", "wav_alaw_8k", "ulaw_8k", "alaw_8k"])
def test_a_jobs_audio_in_each_telephone_format(sqlite_stack: Stack, spoken_job: dict, fmt: str | None) -> None:  # type: ignore[type-arg]
    with sqlite_stack.client() as api:
        wav = api.get(f"/v1/jobs/{spoken_job['id']}/audio", params={"format": "wav"}).content
        r = api.get(f"/v1/jobs/{spoken_job['id']}/audio", params={"format": fmt} if fmt else {})

    assert r.status_code == 200, r.text
    expected_type = {"ulaw_8k": "audio/PCMU;rate=8000", "alaw_8k": "audio/PCMA;rate=8000"}.get(fmt or "", "audio/wav")
    assert r.headers["content-type"] == expected_type
    assert_a_telephone_prompt(r.content, fmt or "wav_ulaw_8k", wav)  # None: the format asked at submission


def test_a_batch_zip_of_telephone_prompts(sqlite_stack: Stack) -> None:
    script = "id,text\nwelcome,欢迎致电客服中心。\nwait,请稍等，正在为您转接。\n".encode()
    with sqlite_stack.client() as api:
        batch = api.post("/v1/batches", files={"file": ("ivr.csv", script)}, data={"format": "alaw_8k"}).json()
        wait_for(lambda: api.get(f"/v1/batches/{batch['id']}").json()["done"], timeout=120)
        z = api.get(f"/v1/batches/{batch['id']}/audio", params={"output": "zip"})
        chapter = api.get(f"/v1/batches/{batch['id']}/audio", params={"format": "wav_ulaw_8k"})
        lines = api.get(f"/v1/batches/{batch['id']}/jobs").json()
        wavs = [api.get(f"/v1/jobs/{job['id']}/audio", params={"format": "wav"}).content for job in lines]

    with zipfile.ZipFile(io.BytesIO(z.content)) as archive:
        assert archive.namelist() == ["0002_welcome.al", "0003_wait.al"]
        for member, wav in zip(archive.namelist(), wavs, strict=True):
            assert_a_telephone_prompt(archive.read(member), "alaw_8k", wav)
    samples, rate = decoded(chapter.content, "wav_ulaw_8k")  # the whole script as one prompt, too
    pause_s = get_settings().pause_between_chunks_ms * 2 / 1000
    assert rate == 8000 and len(samples) / rate == pytest.approx(sum(map(trimmed_s, wavs)) + pause_s, abs=0.004)


@pytest.mark.parametrize("fmt", ["wav_alaw_8k", "ulaw_8k"])
def test_openai_speech_answers_in_a_telephone_format(sqlite_stack: Stack, fmt: str) -> None:
    body = {"model": "tts-1", "voice": "cmn", "input": PROMPT, "response_format": fmt}
    with sqlite_stack.client() as api:
        r = api.post("/v1/audio/speech", json=body)
        wav = api.post("/v1/audio/speech", json=body | {"response_format": "wav"}).content  # cached: the same line

    assert r.status_code == 200, r.text
    assert_a_telephone_prompt(r.content, fmt, wav)


def test_a_precomputed_prompt_is_served_in_a_telephone_format_from_the_cache(sqlite_stack: Stack) -> None:
    phrase = f"您的来电号码是{uuid.uuid4().int % 10_000}号。"
    with sqlite_stack.client() as api:
        job_id = api.post("/v1/snippets/precompute", json={"phrases": [phrase]}).json()["phrases"][0]["job_id"]
        wait_for(lambda: finished(api, job_id))
        again = api.post("/v1/snippets/precompute", json={"phrases": [phrase]}).json()["phrases"][0]
        r = api.get(f"/v1/jobs/{again['job_id']}/audio", params={"format": "ulaw_8k"})
        wav = api.get(f"/v1/jobs/{again['job_id']}/audio", params={"format": "wav"}).content

    assert again["cached"]
    assert_a_telephone_prompt(r.content, "ulaw_8k", wav)


def test_an_unknown_format_is_refused_everywhere(sqlite_stack: Stack, spoken_job: dict) -> None:  # type: ignore[type-arg]
    with sqlite_stack.client() as api:
        audio = api.get(f"/v1/jobs/{spoken_job['id']}/audio", params={"format": "ulaw_16k"})
        synth = api.post("/v1/synthesize", json={"text": PROMPT, "format": "gsm"})
        speech = api.post(
            "/v1/audio/speech", json={"model": "m", "voice": "cmn", "input": PROMPT, "response_format": "ulaw"}
        )
        batch = api.post("/v1/batches", files={"file": ("x.txt", b"\xe4\xbd\xa0")}, data={"format": "alaw"})
        stream = api.post(
            "/v1/audio/speech",
            json={
                "model": "m",
                "voice": "cmn",
                "input": PROMPT,
                "response_format": "ulaw_8k",
                "stream_format": "audio",
            },
        )

    assert [r.status_code for r in (audio, synth, speech, batch)] == [422] * 4
    assert all("format" in r.json()["error"]["message"] for r in (audio, synth, speech, batch))
    assert stream.status_code == 400 and "streams wav or pcm" in stream.json()["error"]["message"]
