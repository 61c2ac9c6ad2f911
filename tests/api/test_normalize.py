"""POST /v1/normalize: what a line will be said as, and the chunks it will be spoken in."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shared.config import get_settings


@pytest.fixture
def empty_lexicon(client: TestClient) -> Iterator[TestClient]:
    client.delete("/v1/lexicon")
    yield client
    client.delete("/v1/lexicon")


def test_a_prompt_is_shown_as_the_engine_will_say_it(empty_lexicon: TestClient) -> None:
    r = empty_lexicon.post(
        "/v1/normalize",
        json={"text": "您的订单号1234567890已发货。客服电话400-800-1234，账单¥1,234.50。", "voice": "cmn"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["spoken_text"] == (
        "您的订单号幺二三四五六七八九零已发货。客服电话四零零 八零零 幺二三四，账单一千二百三十四元五角。"
    )
    assert "".join(body["chunks"]).replace(" ", "") == body["spoken_text"].replace(" ", "")


def test_a_long_line_is_cut_where_the_worker_cuts_it(
    empty_lexicon: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "max_chunk_chars", 20)
    text = "第一句话在这里结束。第二句话也在这里结束！" * 3
    chunks = empty_lexicon.post("/v1/normalize", json={"text": text}).json()["chunks"]
    assert all(len(c) <= 20 for c in chunks) and "".join(chunks) == text


def test_the_tenants_lexicon_applies(empty_lexicon: TestClient) -> None:
    assert empty_lexicon.put("/v1/lexicon", json={"entries": {"重庆": "chong2 qing4"}}).status_code == 200
    spoken = empty_lexicon.post("/v1/normalize", json={"text": "重庆有3座桥"}).json()["spoken_text"]
    assert "chong2 qing4" in spoken and "三座桥" in spoken


def test_an_unknown_voice_or_an_empty_text_is_a_4xx(client: TestClient) -> None:
    r = client.post("/v1/normalize", json={"text": "你好", "voice": "no-such-voice"})
    assert r.status_code == 400 and "no-such-voice" in r.json()["error"]["message"]
    r = client.post("/v1/normalize", json={"text": "\u200b"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "bad_input"


def test_it_is_listed_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/v1/normalize"]
