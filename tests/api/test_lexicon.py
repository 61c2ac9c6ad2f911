"""PUT, GET and DELETE /v1/lexicon, and what a lexicon does to the lines submitted after it."""

import io
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from deploy.stack import Stack
from shared.db import session_scope
from shared.models import Job
from tests.phonemes import phonemes
from tests.plugins.services import wait_for

LEXICON = {"重庆": "chong2 qing4", "VoxQueue": "沃克斯队列"}


@pytest.fixture
def empty_lexicon(client: TestClient) -> Iterator[TestClient]:
    """The in-process tenant with no lexicon before and after the test."""
    client.delete("/v1/lexicon")
    yield client
    client.delete("/v1/lexicon")


def snippet_key(job_id: str) -> str | None:
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.snippet_key


def test_a_lexicon_is_stored_whole_and_shown_as_stored(empty_lexicon: TestClient) -> None:
    client = empty_lexicon
    assert client.get("/v1/lexicon").json() == {"entries": {}, "version": None, "updated_at": None}

    put = client.put("/v1/lexicon", json={"entries": {"重庆": "Chong2Qing4", "VoxQueue": "沃克斯队列"}})
    got = client.get("/v1/lexicon").json()

    assert put.status_code == 200, put.text
    assert got["entries"] == LEXICON and got["version"] == put.json()["version"]
    client.put("/v1/lexicon", json={"entries": {"长沙": "chang2 sha1"}})
    assert client.get("/v1/lexicon").json()["entries"] == {"长沙": "chang2 sha1"}  # replaced, not merged
    assert client.delete("/v1/lexicon").status_code == 204
    assert client.get("/v1/lexicon").json()["entries"] == {}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"entries": {"重庆": "chong7 qing4"}}, 400),  # digits that are not tones
        ({"entries": {"重庆": ""}}, 400),
        ({"entries": {"重庆": "chong2 qing4", "、": "dun4"}}, 400),  # one bad entry refuses all
        ({"entries": {"长" * 51: "chang2"}}, 413),
        ({"entries": {f"词{n}": "ci2" for n in range(5001)}}, 413),
        ({"entries": {"重庆": 5}}, 422),
        ({"entries": ["重庆", "chong2 qing4"]}, 422),
        ({}, 422),
    ],
)
def test_bad_input_is_refused_with_a_json_error_and_nothing_stored(
    empty_lexicon: TestClient, body: dict[str, object], status: int
) -> None:
    client = empty_lexicon
    client.put("/v1/lexicon", json={"entries": LEXICON})

    r = client.put("/v1/lexicon", json=body)

    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]
    assert client.get("/v1/lexicon").json()["entries"] == LEXICON


def test_a_line_is_given_to_the_engine_as_the_lexicon_says(empty_lexicon: TestClient) -> None:
    client = empty_lexicon
    client.put("/v1/lexicon", json={"entries": LEXICON})

    job = client.post("/v1/synthesize", json={"text": "欢迎使用VoxQueue，我在重庆。"}).json()

    assert job["input"]["spoken"] == "欢迎使用沃克斯队列，我在 chong2 qing4 。"
    assert job["input"]["text"] == "欢迎使用VoxQueue，我在重庆。"  # as written: what its captions show


def test_changing_an_entry_changes_the_key_of_the_lines_it_applies_to_and_no_other(empty_lexicon: TestClient) -> None:
    client = empty_lexicon
    line, other = f"我在重庆{uuid.uuid4().hex}", f"我在长沙{uuid.uuid4().hex}"

    def keys() -> tuple[str | None, str | None]:
        ids = [client.post("/v1/synthesize", json={"text": text}).json()["id"] for text in (line, other)]
        return snippet_key(ids[0]), snippet_key(ids[1])

    without = keys()
    client.put("/v1/lexicon", json={"entries": {"重庆": "chong2 qing4"}})
    first = keys()
    client.put("/v1/lexicon", json={"entries": {"重庆": "zhong4 qing4", "北京": "bei3 jing1"}})
    second = keys()

    assert len({without[0], first[0], second[0]}) == 3  # a stale recording is never found
    assert without[1] == first[1] == second[1]  # lines no entry touches keep their cached audio


def test_each_tenant_has_its_own_lexicon(empty_lexicon: TestClient) -> None:
    from shared.tenants.auth import create_key

    with session_scope() as session:
        other_key = create_key(session, f"lexicon-other-{uuid.uuid4().hex[:8]}")
    empty_lexicon.put("/v1/lexicon", json={"entries": LEXICON})

    other = empty_lexicon.get("/v1/lexicon", headers={"Authorization": f"Bearer {other_key}"})

    assert other.json()["entries"] == {}


def test_a_worker_speaks_the_line_as_the_entry_says_and_never_from_a_stale_recording(sqlite_stack: Stack) -> None:
    """espeak-ng says 重庆 zhong4 qing4; with the entry it is given chong2 qing4, which it says as
    it says 崇庆. (Its audio differs by a few samples from call to call, so the phonemes of what
    it was given are compared, and the audio only by its length.)"""
    tag = uuid.uuid4().hex[:6]  # letters and digits spelled out: the line is new to the cache
    line, intended = f"我明天去重庆出差，编号{tag}。", f"我明天去崇庆出差，编号{tag}。"
    with sqlite_stack.client() as api:
        api.delete("/v1/lexicon")
        before = spoken(api, line)
        api.put("/v1/lexicon", json={"entries": {"重庆": "chong2 qing4"}})
        after = spoken(api, line)
        reference = spoken(api, intended)
        api.delete("/v1/lexicon")
        back = spoken(api, line)

    assert not after["cached"] and after["audio"] != before["audio"]  # spoken anew, not the stale recording
    assert phonemes(after["text"]) == phonemes(reference["text"]) != phonemes(before["text"])
    assert after["seconds"] == pytest.approx(reference["seconds"], rel=0.03)
    assert back["cached"] and back["audio"] == before["audio"]  # the old recording, under its own key


def spoken(api: httpx.Client, text: str) -> dict[str, Any]:
    r = api.post("/v1/synthesize", json={"text": text, "voice": "cmn"})
    job = wait_for(lambda: (j := api.get(f"/v1/jobs/{r.json()['id']}").json())["status"] == "succeeded" and j)
    wav = api.get(f"/v1/jobs/{job['id']}/audio", params={"format": "wav"}).content
    samples, rate = sf.read(io.BytesIO(wav), dtype="int16")
    return {
        "cached": r.status_code == 200,
        "text": job["result"]["spoken_text"],
        "audio": wav,
        "seconds": len(samples) / rate,
    }
