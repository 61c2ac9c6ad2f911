"""POST /v1/snippets/precompute: phrases × a voice, spoken ahead of time by a real worker."""

from __future__ import annotations

from deploy.stack import Stack
from tests.plugins.services import wait_for
from tests.voice_factory import create_voice

PHRASES = ["欢迎光临。", "请稍等。", "您的订单已发货。", "价格¥12.50。"]


def all_done(api, job_ids: list[str]) -> bool:  # type: ignore[no-untyped-def]
    return all(api.get(f"/v1/jobs/{j}").json()["status"] == "succeeded" for j in job_ids)


def test_precomputed_phrases_are_served_from_the_cache_without_the_queue(fish_stack: Stack) -> None:
    with fish_stack.client() as api:
        voice = create_voice(api)["id"]
        first = api.post("/v1/snippets/precompute", json={"phrases": PHRASES, "voice": voice})
        assert first.status_code == 202, first.text
        body = first.json()
        assert body["queued"] == len(PHRASES) and body["cached"] == 0
        assert body["phrases"][3]["text"] == "价格十二元五角。"  # normalised, as it is spoken
        wait_for(lambda: all_done(api, [p["job_id"] for p in body["phrases"]]))

        again = api.post("/v1/snippets/precompute", json={"phrases": PHRASES, "voice": voice})
        assert again.status_code == 200 and again.json()["queued"] == 0
        assert all(p["cached"] and p["status"] == "succeeded" for p in again.json()["phrases"])

        # The same phrase through /v1/synthesize, in another spelling: cached, never queued.
        r = api.post("/v1/synthesize", json={"text": "价格十二元五角。", "voice": voice})
        assert r.status_code == 200 and r.json()["attempts"] == 0
        assert api.get(f"/v1/jobs/{r.json()['id']}/audio").status_code == 200


def test_duplicate_spellings_are_one_recording(fish_stack: Stack) -> None:
    with fish_stack.client() as api:
        voice = create_voice(api)["id"]
        r = api.post("/v1/snippets/precompute", json={"phrases": ["共¥5", "共5元", "共五元"], "voice": voice}).json()
    # "¥5" is 五元; "5元" is 五元 too: the three spellings are one phrase.
    assert len(r["phrases"]) == 1 and r["phrases"][0]["text"] == "共五元"


def test_bad_phrases_store_nothing(fish_stack: Stack) -> None:
    with fish_stack.client() as api:
        voice = create_voice(api)["id"]
        assert (
            api.post("/v1/snippets/precompute", json={"phrases": ["好的", "。。。"], "voice": voice}).status_code == 400
        )
        assert api.post("/v1/snippets/precompute", json={"phrases": [], "voice": voice}).status_code == 422
        assert api.post("/v1/snippets/precompute", json={"phrases": ["好的"], "voice": "nobody"}).status_code == 400
