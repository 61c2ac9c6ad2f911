"""POST /v1/dialect and the dialect batch with the CPU detector alone (no LLM configured)."""

from fastapi.testclient import TestClient


def test_a_dialect_text_is_answered_at_once_with_evidence(client: TestClient) -> None:
    r = client.post("/v1/dialect", json={"text": "佢今日唔喺屋企。", "context": {"region": "广州"}})
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["kind"] == "dialect" and job["status"] == "succeeded"
    answer = job["result"]
    assert answer["label"] == "粤语" and answer["decided_by"] == "cpu"
    assert {e["matched"] for e in answer["evidence"]} >= {"佢", "唔", "喺"}
    assert 0.8 < answer["confidence"] <= 1
    assert client.get(f"/v1/jobs/{job['id']}").json()["result"] == answer


def test_a_text_without_markers_is_mandarin_with_modest_confidence(client: TestClient) -> None:
    answer = client.post("/v1/dialect", json={"text": "我们明天上午九点开会。"}).json()["result"]
    assert answer["label"] == "普通话" and answer["evidence"] == []
    assert 0.3 < answer["confidence"] < 0.9
    assert "No dialect markers" in answer["reason"]


def test_bad_dialect_input_is_a_clear_4xx(client: TestClient) -> None:
    assert client.post("/v1/dialect", json={"text": ""}).status_code == 400  # as " " and on /v1/synthesize
    assert "text is empty" in client.post("/v1/dialect", json={"text": " \u200b "}).json()["error"]["message"]
    assert client.post("/v1/dialect", json={"text": "好" * 6000}).status_code == 413  # as on /v1/synthesize
    r = client.post("/v1/dialect", json={"text": 42})
    assert r.status_code == 422 and "text" in r.json()["error"]["message"]
    r = client.post("/v1/dialect", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_a_dialect_batch_gives_one_answer_per_text_in_order(client: TestClient) -> None:
    items = [
        {"text": "侬今朝夜饭吃啥？", "id": "a"},
        {"text": "你晓得不嘛，这个东西巴适得很！"},
        {"text": "今天天气很好。"},
    ]
    batch = client.post("/v1/dialect/batch", json={"items": items}).json()
    assert batch["kind"] == "dialect" and batch["done"] and batch["counts"]["succeeded"] == 3
    jobs = client.get(f"/v1/batches/{batch['id']}/jobs").json()
    assert [j["result"]["label"] for j in jobs] == ["上海话", "四川话", "普通话"]
    assert jobs[0]["line_id"] == "a"


def test_an_uploaded_script_can_be_a_dialect_batch(client: TestClient) -> None:
    script = "id,text\nq1,阿拉一道去白相。\nq2,今天下午开会。\n".encode()
    r = client.post("/v1/batches", files={"file": ("calls.csv", script)}, data={"kind": "dialect"})
    assert r.status_code == 202, r.text
    batch = r.json()
    assert batch["kind"] == "dialect" and batch["counts"]["succeeded"] == 2 and batch["audio_url"] is None
    jobs = client.get(f"/v1/batches/{batch['id']}/jobs").json()
    assert [(j["line_id"], j["result"]["label"]) for j in jobs] == [("q1", "上海话"), ("q2", "普通话")]
    assert client.get(f"/v1/batches/{batch['id']}/audio").status_code == 400
