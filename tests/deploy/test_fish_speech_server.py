"""The stand-in keeps Fish Speech's documented contract; in-process, since only the app is under test."""

from __future__ import annotations

import base64
import io
import subprocess

import msgpack
import numpy as np
import pytest
import soundfile as sf
from starlette.testclient import TestClient

from deploy.fish_speech_standin import ACCEPT, create_app

KEY = "k3y"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(KEY, max_text_length=200))


@pytest.fixture(scope="module")
def clip() -> bytes:
    return subprocess.run(
        ["espeak-ng", "-v", "cmn", "--stdout"], input="参考录音".encode(), capture_output=True, check=True
    ).stdout


def _tts(client: TestClient, body: dict, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/v1/tts", content=msgpack.packb(body), headers={**AUTH, "Content-Type": "application/msgpack", **headers}
    )


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_health_answers_both_methods_and_needs_the_key(client: TestClient, method: str) -> None:
    assert client.request(method, "/v1/health", headers=AUTH).json() == {"status": "ok"}
    denied = client.request(method, "/v1/health")
    assert denied.status_code == 401
    assert denied.json() == {"statusCode": 401, "message": "Invalid token", "error": "Unauthorized"}


def test_wav_answer_is_mono_44k_pcm16_attachment(client: TestClient) -> None:
    response = _tts(client, {"text": "你好世界", "seed": 1})
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-disposition"] == "attachment; filename=audio.wav"
    info = sf.info(io.BytesIO(response.content))
    assert (info.samplerate, info.channels, info.subtype) == (44_100, 1, "PCM_16")


def test_mp3_is_the_other_working_format(client: TestClient) -> None:
    response = _tts(client, {"text": "你好", "format": "mp3"})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"


@pytest.mark.parametrize("fmt", ["pcm", "opus"])
def test_pcm_and_opus_fail_inside_the_server(client: TestClient, fmt: str) -> None:
    response = _tts(client, {"text": "你好", "format": fmt})
    assert response.status_code == 500
    assert set(response.json()) == {"statusCode", "message", "error"}


def test_other_content_types_get_415_with_accept(client: TestClient) -> None:
    response = client.post("/v1/tts", content=b"text", headers={**AUTH, "Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.headers["accept"] == ACCEPT


@pytest.mark.parametrize(
    ("field", "value"),
    [("top_p", "0.8"), ("top_p", 1.5), ("temperature", 0.05), ("repetition_penalty", 3.0), ("format", "flac")],
)
def test_schema_failures_are_a_422_array(client: TestClient, field: str, value: object) -> None:
    response = _tts(client, {"text": "你好", field: value})
    assert response.status_code == 422
    [error] = response.json()
    assert set(error) == {"loc", "type", "msg", "in"} and error["loc"] == [field]


def test_whole_numbers_pass_as_strict_floats_and_chunk_length_is_not_enforced(client: TestClient) -> None:
    assert _tts(client, {"text": "你好", "temperature": 1, "chunk_length": 5000}).status_code == 200


def test_json_reference_audio_is_base64_decoded(client: TestClient, clip: bytes) -> None:
    body = {"text": "你好", "seed": 3, "references": [{"audio": base64.b64encode(clip).decode(), "text": "参考录音"}]}
    by_json = client.post("/v1/tts", json=body, headers=AUTH)
    by_msgpack = _tts(client, {**body, "references": [{"audio": clip, "text": "参考录音"}]})
    assert by_json.status_code == 200 and by_json.content == by_msgpack.content


def test_empty_text_has_no_audio(client: TestClient) -> None:
    response = _tts(client, {"text": "  "})
    assert response.status_code == 500
    assert response.json()["message"] == "No audio generated, please check the input text."


def test_text_over_the_limit_is_400(client: TestClient) -> None:
    assert _tts(client, {"text": "好" * 201}).status_code == 400


def test_an_unknown_reference_id_is_not_an_error(client: TestClient) -> None:
    assert _tts(client, {"text": "你好", "reference_id": "no-such-voice"}).status_code == 200


def test_streaming_is_raw_pcm_without_a_riff_header(client: TestClient) -> None:
    response = _tts(client, {"text": "<|speaker:0|>你好<|speaker:1|>再见", "streaming": True, "seed": 2})
    assert response.status_code == 200 and response.headers["content-type"].startswith("audio/wav")
    assert not response.content.startswith(b"RIFF")
    samples = np.frombuffer(response.content, dtype="<i2")
    assert len(samples) > 44_100 * 0.3 and np.abs(samples).max() > 1000


def test_streaming_needs_wav(client: TestClient) -> None:
    response = _tts(client, {"text": "你好", "streaming": True, "format": "mp3"})
    assert response.status_code == 400
    assert response.json()["message"] == "Streaming only supports WAV format"
