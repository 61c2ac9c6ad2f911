"""OpenAI-compatible POST /v1/audio/speech, driven by the official ``openai`` client unchanged."""

from __future__ import annotations

import io
import uuid

import numpy as np
import openai
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from deploy.stack import Stack
from shared.config import get_settings
from tests.voice_factory import create_voice

LINE = "您好，这里是语音合成服务，很高兴为您服务。"


@pytest.fixture
def setup(fish_stack: Stack) -> tuple[openai.OpenAI, str]:
    with fish_stack.client() as api:
        voice = create_voice(api)["id"]
    return openai.OpenAI(base_url=f"{fish_stack.api_url}/v1", api_key=fish_stack.key, max_retries=0), voice


def test_the_openai_client_gets_wav_speech(setup: tuple[openai.OpenAI, str]) -> None:
    client, voice = setup
    audio = client.audio.speech.create(model="tts-1", voice=voice, input=LINE, response_format="wav")
    samples, rate = sf.read(io.BytesIO(audio.content), dtype="float32")
    assert rate == 44_100 and samples.ndim == 1 and 1.0 < len(samples) / rate < 15


@pytest.mark.parametrize(("fmt", "magic"), [("mp3", None), ("flac", b"fLaC"), ("opus", b"OggS")])
def test_other_formats(setup: tuple[openai.OpenAI, str], fmt: str, magic: bytes | None) -> None:
    client, voice = setup
    data = client.audio.speech.create(model="tts-1", voice=voice, input=LINE, response_format=fmt).content  # type: ignore[arg-type]
    assert len(data) > 1000 and (magic is None or data.startswith(magic))
    assert sf.info(io.BytesIO(data)).duration > 1.0


def test_pcm_is_raw_24k_s16le(setup: tuple[openai.OpenAI, str]) -> None:
    client, voice = setup
    data = client.audio.speech.create(model="tts-1", voice=voice, input=LINE, response_format="pcm").content
    samples = np.frombuffer(data, dtype="<i2")
    assert 1.0 < len(samples) / 24_000 < 15 and np.abs(samples).max() > 1000


def test_speed_changes_the_duration(setup: tuple[openai.OpenAI, str]) -> None:
    client, voice = setup
    normal = sf.info(
        io.BytesIO(client.audio.speech.create(model="tts-1", voice=voice, input=LINE, response_format="wav").content)
    )
    fast = sf.info(
        io.BytesIO(
            client.audio.speech.create(model="tts-1", voice=voice, input=LINE, response_format="wav", speed=2.0).content
        )
    )
    assert fast.duration < normal.duration * 0.7


def test_errors_reach_the_client_as_openai_errors(setup: tuple[openai.OpenAI, str]) -> None:
    client, voice = setup
    with pytest.raises(openai.BadRequestError, match="unknown voice"):
        client.audio.speech.create(model="tts-1", voice="no-such-voice", input=LINE)
    # OpenAI's names are the deployment's voices for them: none is set here, and Fish Speech has no default.
    with pytest.raises(openai.BadRequestError, match="no default voice"):
        client.audio.speech.create(model="tts-1", voice="alloy", input=LINE)
    with pytest.raises(openai.UnprocessableEntityError, match="response_format"):  # the schema lists what is served
        client.audio.speech.create(model="tts-1", voice=voice, input=LINE, response_format="m4a")  # type: ignore[arg-type]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=str(client.base_url), api_key="wrong", max_retries=0).audio.speech.create(
            model="tts-1", voice=voice, input=LINE
        )


STORY = "第一句话很短。第二句话稍微长一点，但也不算太长！第三句是最后一句？"


def test_streamed_audio_comes_sentence_by_sentence_in_order(stack: Stack) -> None:
    body = {"model": "tts-1", "voice": "cmn", "input": STORY, "response_format": "wav", "stream_format": "audio"}
    with stack.client() as api, api.stream("POST", "/v1/audio/speech", json=body) as r:
        assert r.status_code == 200, r.read()
        job_ids = r.headers["X-VoxQueue-Job-Ids"].split(",")
        data = b"".join(r.iter_bytes())
        sentences = [api.get(f"/v1/jobs/{job_id}").json() for job_id in job_ids]
        pcm = [api.get(f"/v1/jobs/{job_id}/audio", params={"format": "wav"}).content for job_id in job_ids]

    assert data[:4] == b"RIFF" and data[4:8] == b"\xff\xff\xff\xff"  # a WAV of open length
    assert [job["input"]["text"] for job in sentences] == [
        "第一句话很短。",
        "第二句话稍微长一点，但也不算太长！",
        "第三句是最后一句？",
    ]
    streamed = np.frombuffer(data[44:], dtype="<i2")
    pause = 24_000 * 250 // 1000
    expected = sum(round(sf.info(io.BytesIO(w)).duration * 24_000) for w in pcm) + 2 * pause
    assert abs(len(streamed) - expected) <= 3 * 2  # each sentence resampled to 24 kHz, with a pause between
    first = round(sf.info(io.BytesIO(pcm[0])).duration * 24_000)
    assert (
        np.abs(streamed[:first]).max() > 1000 and not streamed[first : first + pause].any()
    )  # sentence 1, then the pause


def test_streamed_audio_is_wav_or_pcm_only(stack: Stack) -> None:
    body = {"model": "tts-1", "voice": "cmn", "input": STORY, "response_format": "mp3", "stream_format": "audio"}
    with stack.client() as api:
        r = api.post("/v1/audio/speech", json=body)

    assert r.status_code == 400 and "streams wav or pcm" in r.json()["error"]["message"]


def test_a_line_no_worker_takes_in_time_is_a_503_saying_when_to_come_back(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The in-process API has no TTS worker: as a pool scaled to zero that is still starting.
    monkeypatch.setattr(get_settings(), "speech_wait_s", 0.3)
    r = client.post(
        "/v1/audio/speech",
        json={"model": "tts-1", "input": f"没有人念的一句话{uuid.uuid4().hex[:6]}。", "voice": "cmn"},
    )

    assert r.status_code == 503 and r.headers["Retry-After"] == "60"
    message = r.json()["error"]["message"]
    assert "no TTS worker took job" in message and "answered from the cache" in message
    job_id = message.split("job ")[1].split()[0]
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"  # it goes on


def test_an_openai_voice_name_and_aac_work_unchanged(stack: Stack) -> None:
    """OpenAI's own example (voice "alloy", format "aac") speaks in the deployment's voice for it
    (the engine's default here), as a named download."""
    client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=stack.key, max_retries=0)
    raw = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input="今天天气很好。", response_format="aac"
    )
    assert raw.headers["content-type"] == "audio/aac"
    assert raw.headers["content-disposition"] == 'attachment; filename="speech.aac"'
    data = raw.content
    assert data[:2] in (b"\xff\xf1", b"\xff\xf9") and len(data) > 1000  # ADTS frames
