import io
import json
import zipfile

import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from deploy.stack import Stack
from tests.plugins.services import wait_for
from tests.voice_factory import spoken_length


def done(api, batch_id: str):  # type: ignore[no-untyped-def]
    batch = api.get(f"/v1/batches/{batch_id}").json()
    return batch if batch["done"] else None


def test_a_plain_text_script_becomes_one_chapter(stack: Stack) -> None:
    long_line = "第一句话很短。第二句话也不长！" * 12  # over the chunk size: split and joined back
    script = f"春天来了。\n\n{long_line}\n小明在家里看书。\n".encode()
    with stack.client() as api:
        r = api.post("/v1/batches", files={"file": ("chapter.txt", script)}, data={"voice": "cmn"})
        assert r.status_code == 202, r.text
        batch = r.json()
        assert batch["lines"] == 3 and sum(batch["counts"].values()) == 3
        batch = wait_for(lambda: done(api, batch["id"]), timeout=120)
        assert batch["counts"]["succeeded"] == 3, batch
        wav = api.get(f"/v1/batches/{batch['id']}/audio")
        samples, rate = sf.read(io.BytesIO(wav.content))
        lines = api.get(f"/v1/batches/{batch['id']}/jobs").json()
        assert [j["line"] for j in lines] == [1, 3, 4]  # blank line 2 skipped, order kept
        spoken = sum(j["result"]["duration_s"] for j in lines if "duration_s" in j["result"])
        assert len(samples) / rate >= spoken  # every line is in the chapter, with pauses
        assert lines[1]["result"]["duration_s"] > 10  # the long line was spoken whole


def test_csv_and_jsonl_scripts_with_ids_and_voices_give_a_zip(stack: Stack) -> None:
    csv_script = "id,text,voice\nintro,欢迎致电客服中心。,cmn\nhk,多謝你打嚟。,yue\n".encode()
    jsonl_script = "\n".join(
        json.dumps(r, ensure_ascii=False) for r in [{"text": "请稍等。", "id": "w1"}, {"text": "再见。"}]
    ).encode()
    with stack.client() as api:
        for name, data, expected in [
            ("s.csv", csv_script, ["0002_intro.flac", "0003_hk.flac"]),
            ("s.jsonl", jsonl_script, ["0001_w1.flac", "0002.flac"]),
        ]:
            batch = api.post("/v1/batches", files={"file": (name, data)}, data={"format": "flac"}).json()
            wait_for(lambda batch=batch: done(api, batch["id"]), timeout=120)
            z = api.get(f"/v1/batches/{batch['id']}/audio", params={"output": "zip"})
            with zipfile.ZipFile(io.BytesIO(z.content)) as archive:
                assert archive.namelist() == expected
                for member in archive.namelist():
                    assert sf.info(io.BytesIO(archive.read(member))).duration > 0.3


def test_batch_audio_before_the_end_is_409(idle_stack: Stack) -> None:
    script = "\n".join(f"这是第{i}行。" for i in range(3)).encode()
    with idle_stack.client() as api:  # no worker: the batch cannot have finished
        batch = api.post("/v1/batches", files={"file": ("x.txt", script)}).json()
        r = api.get(f"/v1/batches/{batch['id']}/audio")

    assert r.status_code == 409
    assert r.json()["error"]["message"] == f"batch {batch['id']} is not finished: 3 jobs to go"


def test_a_batch_can_let_each_lines_dialect_choose_its_voice(stack: Stack) -> None:
    script = "佢哋今日去咗街市。\n我们明天上午开会。\n".encode()
    with stack.client() as api:
        batch = api.post(
            "/v1/batches", files={"file": ("mixed.txt", script)}, data={"voice": "cmn", "follow_dialect": "true"}
        ).json()
        batch = wait_for(lambda: done(api, batch["id"]), timeout=120)
        assert batch["counts"]["succeeded"] == 2, batch
        lines = api.get(f"/v1/batches/{batch['id']}/jobs").json()
        assert [(j["input"]["dialect"], j["input"]["voice"]) for j in lines] == [("粤语", "yue"), ("普通话", "cmn")]
        assert lines[0]["result"]["duration_s"] == pytest.approx(spoken_length("佢哋今日去咗街市。", "yue"), rel=0.05)
        # An explicit mapping overrides the built-in one; unknown dialects are refused.
        batch = api.post(
            "/v1/batches",
            files={"file": ("m.txt", script)},
            data={"follow_dialect": "true", "dialect_voices": '{"粤语": "cmn"}'},
        ).json()
        lines = api.get(f"/v1/batches/{batch['id']}/jobs").json()
        assert lines[0]["input"]["voice"] == "cmn"
        bad = api.post(
            "/v1/batches",
            files={"file": ("m.txt", script)},
            data={"follow_dialect": "true", "dialect_voices": '{"火星话": "cmn"}'},
        )
        assert bad.status_code == 400 and "火星话" in bad.json()["error"]["message"]
        wait_for(lambda: done(api, batch["id"]), timeout=120)


def test_the_tenants_batches_are_listed_newest_first_a_page_at_a_time(client: TestClient) -> None:
    made = [
        client.post("/v1/batches", files={"file": (f"p{n}.txt", f"第{n}页。\n".encode())}).json()["id"]
        for n in range(3)
    ]
    first = client.get("/v1/batches", params={"limit": 2}).json()
    assert [b["id"] for b in first["batches"]] == made[::-1][:2] and first["next"] == made[1]
    rest = client.get("/v1/batches", params={"limit": 2, "before": first["next"]}).json()
    assert rest["batches"][0]["id"] == made[0]
    assert client.get("/v1/batches", params={"limit": 0}).status_code in (400, 422)
    for batch_id in made:  # no dispatcher runs here: lines left waiting would come before other tests' lines
        assert client.post(f"/v1/batches/{batch_id}/cancel").status_code == 200
