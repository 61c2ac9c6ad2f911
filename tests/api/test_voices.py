"""The voice library through the in-process API: uploads are checked before anything is stored."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from api.main import app
from shared.config import get_settings
from shared.db import session_scope
from shared.tenants.auth import create_key
from tests.voice_factory import TRANSCRIPT, speech_clip


def tone(seconds: float, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="FLAC")
    return buf.getvalue()


def upload(client: TestClient, clip: bytes, transcript: str = TRANSCRIPT, **fields: object):  # type: ignore[no-untyped-def]
    data = {"transcript": transcript, **{k: str(v) for k, v in fields.items()}}
    return client.post("/v1/voices", files={"audio": ("ref.wav", clip, "application/octet-stream")}, data=data)


@pytest.fixture(scope="module")
def clip() -> bytes:
    return speech_clip()


@pytest.fixture
def other_tenant(inproc_key: str) -> Iterator[TestClient]:
    with session_scope() as session:
        key = create_key(session, "voices-other-tenant")
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def test_a_voice_is_created_with_fixed_parameters_and_a_chosen_seed(client: TestClient, clip: bytes) -> None:
    r = upload(client, clip, name="播音员甲", dialect="四川话", temperature=0.6)
    assert r.status_code == 201, r.text
    voice = r.json()
    assert voice["name"] == "播音员甲" and voice["dialect"] == "四川话"
    assert isinstance(voice["seed"], int) and voice["temperature"] == 0.6 and voice["top_p"] == 0.8
    assert 3 <= voice["duration_s"] <= 90
    fetched = client.get(f"/v1/voices/{voice['id']}").json()
    assert {k: v for k, v in fetched.items() if k != "created_at"} == {
        k: v for k, v in voice.items() if k != "created_at"
    }
    assert voice["id"] in [v["id"] for v in client.get("/v1/voices").json()]
    clip_back = client.get(f"/v1/voices/{voice['id']}/audio")
    assert clip_back.headers["content-type"] == "audio/flac" and clip_back.content[:4] == b"fLaC"


def test_a_given_seed_is_kept(client: TestClient, clip: bytes) -> None:
    assert upload(client, clip, seed=42).json()["seed"] == 42


def test_stereo_is_mixed_down_to_mono(client: TestClient) -> None:
    voice = upload(client, speech_clip(fmt="FLAC", channels=2)).json()
    stored = sf.info(io.BytesIO(client.get(f"/v1/voices/{voice['id']}/audio").content))
    assert stored.channels == 1


def test_digits_in_the_transcript_are_normalised(client: TestClient, clip: bytes) -> None:
    assert upload(client, clip, transcript="2024年3月5日录音").json()["transcript"] == "二零二四年三月五日录音"


@pytest.mark.parametrize(
    ("make_clip", "fields", "status", "words"),
    [
        (lambda: b"this is not audio at all" * 50, {}, 400, "not a decodable audio file"),
        (lambda: tone(1.0), {}, 400, "must be 3-90s"),
        (lambda: tone(95.0), {}, 400, "must be 3-90s"),
        (lambda: b"", {}, 400, "empty"),
        (lambda: speech_clip(), {"transcript": "   "}, 400, "transcript is empty"),
        (lambda: speech_clip(), {"dialect": "火星话"}, 400, "unknown dialect"),
        (lambda: speech_clip(), {"name": "cmn"}, 400, "built-in"),
        (lambda: speech_clip(), {"temperature": 1.5}, 422, "temperature"),
        (lambda: speech_clip(), {"seed": -1}, 422, "seed"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    client: TestClient,
    make_clip: Any,
    fields: dict[str, Any],
    status: int,
    words: str,
) -> None:
    before = len(client.get("/v1/voices").json())
    transcript = fields.pop("transcript", TRANSCRIPT)
    r = upload(client, make_clip(), transcript, **fields)
    assert r.status_code == status, r.text
    assert r.json()["error"]["type"] == "bad_input" and words in r.json()["error"]["message"]
    assert len(client.get("/v1/voices").json()) == before


def test_a_silent_clip_is_refused(client: TestClient) -> None:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(16_000 * 5, dtype=np.float32), 16_000, format="WAV")
    r = upload(client, buf.getvalue())
    assert r.status_code == 400 and "silent" in r.json()["error"]["message"]


def test_a_clip_over_the_size_limit_is_413(client: TestClient, clip: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "voice_clip_max_bytes", len(clip) - 1)
    r = upload(client, clip)
    assert r.status_code == 413 and r.json()["error"]["type"] == "too_large"


def test_a_duplicate_name_is_refused(client: TestClient, clip: bytes) -> None:
    assert upload(client, clip, name="独一无二").status_code == 201
    r = upload(client, clip, name="独一无二")
    assert r.status_code == 400 and "already exists" in r.json()["error"]["message"]


def test_another_tenants_voice_is_404_everywhere(client: TestClient, other_tenant: TestClient, clip: bytes) -> None:
    voice_id = upload(client, clip).json()["id"]
    assert other_tenant.get(f"/v1/voices/{voice_id}").status_code == 404
    assert other_tenant.get(f"/v1/voices/{voice_id}/audio").status_code == 404
    assert other_tenant.delete(f"/v1/voices/{voice_id}").status_code == 404
    assert voice_id not in [v["id"] for v in other_tenant.get("/v1/voices").json()]
    assert client.get(f"/v1/voices/{voice_id}").status_code == 200


def test_a_deleted_voice_is_gone(client: TestClient, clip: bytes) -> None:
    voice_id = upload(client, clip).json()["id"]
    assert client.delete(f"/v1/voices/{voice_id}").status_code == 204
    assert client.get(f"/v1/voices/{voice_id}").status_code == 404


def test_a_cloned_voice_on_an_engine_that_cannot_clone_is_a_clear_error(client: TestClient, clip: bytes) -> None:
    # The in-process API runs with the default engine, espeak-ng.
    assert get_settings().tts_engine == "espeak"
    voice_id = upload(client, clip).json()["id"]
    r = client.post("/v1/synthesize", json={"text": "你好", "voice": voice_id})
    assert r.status_code == 400 and "cannot clone" in r.json()["error"]["message"]
