"""`voxq` as a user runs it: a real process against a running stack."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import soundfile as sf

from deploy.stack import REPO, Stack, free_port, fresh_pg_database
from tests.plugins.services import wait_for


def voxq(stack: Stack, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = stack.env | {"VOXQ_API_KEY": key or stack.key, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_submit_shows_progress_and_writes_the_chapter(sqlite_stack: Stack, tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text("第一行。\n第二行有一点长，但是也不算太长。\n第三行。\n", encoding="utf-8")
    out = tmp_path / "chapter.flac"
    done = voxq(sqlite_stack, "submit", str(script), "--voice", "cmn", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "3/3" in done.stdout and f"wrote {out}" in done.stdout.replace("\n", "")
    assert sf.info(str(out)).format == "FLAC" and sf.info(str(out)).duration > 2
    batch_id = done.stdout.split()[1].rstrip(":")
    status = voxq(sqlite_stack, "status", batch_id)
    assert status.returncode == 0 and "done" in status.stdout


def test_say_shows_what_will_be_read_then_speaks_it(sqlite_stack: Stack, tmp_path: Path) -> None:
    dry = voxq(sqlite_stack, "say", "客服电话400-800-1234，账单¥12.50。", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "客服电话四零零 八零零 幺二三四，账单十二元五角。" in dry.stdout and "1. " in dry.stdout
    out = tmp_path / "hello.flac"
    spoken = voxq(sqlite_stack, "say", "您好，欢迎致电。", "--voice", "cmn", "--out", str(out))
    assert spoken.returncode == 0, spoken.stderr
    assert sf.info(str(out)).format == "FLAC" and sf.info(str(out)).duration > 0.5
    assert voxq(sqlite_stack, "say", "你好", "--voice", "no-such-voice", "--dry-run").returncode == 2


def test_bad_input_exits_2_with_a_message(sqlite_stack: Stack, tmp_path: Path) -> None:
    missing = voxq(sqlite_stack, "submit", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    rejected = voxq(sqlite_stack, "submit", str(empty))
    assert rejected.returncode == 2 and "empty" in rejected.stderr
    assert voxq(sqlite_stack, "status", "batch_unknown").returncode == 2
    assert voxq(sqlite_stack, "status", "x", key="vq_wrong").returncode == 2
    assert voxq(sqlite_stack, "worker", "gpu").returncode == 2


def test_help_prints_its_examples_as_copy_paste_lines() -> None:
    from cli.main import EPILOG

    shown = subprocess.run(
        [sys.executable, "-m", "cli", "--help"],
        env=os.environ | {"COLUMNS": "120"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert shown.returncode == 0
    examples = [line.strip() for line in EPILOG.splitlines() if line.strip().startswith("voxq ")]
    printed = [line.strip() for line in shown.stdout.splitlines()]
    assert len(examples) >= 10 and all(example in printed for example in examples), shown.stdout


def test_flower_starts_on_the_broker_behind_basic_auth(sqlite_stack: Stack) -> None:
    port = free_port()
    env = sqlite_stack.env | {"VOXQ_FLOWER_PASSWORD": "s3cret"}
    refused = subprocess.run(
        [sys.executable, "-m", "cli", "flower"],
        env=sqlite_stack.env | {"VOXQ_FLOWER_PASSWORD": ""},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "VOXQ_FLOWER_PASSWORD" in refused.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "flower", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/healthcheck", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert httpx.get(f"{url}/workers", timeout=5).status_code == 401
        assert httpx.get(f"{url}/workers", auth=("admin", "s3cret"), timeout=5).status_code == 200
        # Its Prometheus metrics too (Flower itself leaves them open: workers/flower.py).
        assert httpx.get(f"{url}/metrics", timeout=5).status_code == 401
        metrics = httpx.get(f"{url}/metrics", auth=("admin", "s3cret"), timeout=5)
        assert metrics.status_code == 200 and "flower_" in metrics.text
        assert httpx.get(f"{url}/healthcheck", timeout=5).text == "OK"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_dialect_names_the_variety_and_its_markers(sqlite_stack: Stack) -> None:
    shown = voxq(sqlite_stack, "dialect", "佢哋今日去咗邊度？")
    assert shown.returncode == 0, shown.stderr
    assert "粤语" in shown.stdout and "佢" in shown.stdout and "decided by cpu" in shown.stdout


def test_dialect_eval_prints_scores_and_the_confusion_matrix(sqlite_stack: Stack, tmp_path: Path) -> None:
    from shared.dialect.examples import EXAMPLES

    tsv = tmp_path / "mine.tsv"
    tsv.write_text("text\tlabel\n" + "".join(f"{e.text}\t{e.label}\n" for e in EXAMPLES), encoding="utf-8")
    for extra in ([], ["--via-api"]):
        shown = voxq(sqlite_stack, "dialect", "eval", str(tsv), *extra)
        assert shown.returncode == 0, shown.stderr
        assert "macro" in shown.stdout.lower() and "普通话" in shown.stdout
    bad = tmp_path / "bad.tsv"
    bad.write_text("words\tlabel\n你好\t普通话\n", encoding="utf-8")
    refused = voxq(sqlite_stack, "dialect", "eval", str(bad))
    assert refused.returncode == 2 and "text" in refused.stderr


def test_requeue_sends_again_a_job_whose_message_was_lost(sqlite_stack: Stack) -> None:
    from sqlalchemy.orm import Session

    from shared.db import make_engine
    from shared.jobs import state
    from shared.jobs.contracts import ScriptLine
    from shared.jobs.synthesis import synthesis_jobs
    from shared.tenants.auth import tenant_for_key

    # A committed job that never got its queue message, as after a crash between the two.
    with Session(make_engine(sqlite_stack.env["VOXQ_DATABASE_URL"])) as session:
        tenant = tenant_for_key(session, sqlite_stack.key)
        [job_id] = state.insert_jobs(
            session, tenant, synthesis_jobs(session, tenant, [ScriptLine(1, "这条消息丢了，再发一次。")], "cmn")
        )
        session.commit()
    with sqlite_stack.client() as api:
        time.sleep(1)
        assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"
        moved = voxq(sqlite_stack, "requeue", "--older-than", "0")
        assert moved.returncode == 0, moved.stderr
        assert re.search(r"\b[1-9]\d* synthesis", moved.stdout), moved.stdout
        done = wait_for(
            lambda: (lambda j: j if j["status"] in ("succeeded", "failed") else None)(
                api.get(f"/v1/jobs/{job_id}").json()
            )
        )
    assert done["status"] == "succeeded"
    assert voxq(sqlite_stack, "requeue", "--older-than", "-1").returncode == 2
    assert voxq(sqlite_stack, "requeue", "--every", "0").returncode == 2


def test_requeue_leaves_alone_a_job_whose_message_is_still_waiting(sqlite_stack: Stack) -> None:
    import redis
    from celery import Celery
    from sqlalchemy.orm import Session

    from shared.db import make_engine
    from shared.jobs import state
    from shared.jobs.contracts import GenerateRequest
    from shared.jobs.submit import generation_jobs
    from shared.tenants.auth import tenant_for_key

    # This stack runs no LLM worker: a generation job's message waits on the llm list.
    with Session(make_engine(sqlite_stack.env["VOXQ_DATABASE_URL"])) as session:
        tenant = tenant_for_key(session, sqlite_stack.key)
        [job_id] = state.insert_jobs(session, tenant, generation_jobs([GenerateRequest(input="排队等着")]))
        session.commit()
    Celery(broker=sqlite_stack.env["VOXQ_REDIS_URL"]).send_task("voxq.llm.generate", args=[[job_id]], queue="llm")
    broker = redis.Redis.from_url(sqlite_stack.env["VOXQ_REDIS_URL"])
    waiting = broker.llen("llm")

    moved = voxq(sqlite_stack, "requeue", "--older-than", "0")

    assert moved.returncode == 0, moved.stderr
    assert "0 generation" in moved.stdout
    assert broker.llen("llm") == waiting


def test_cancel_stops_a_batch_and_a_webhook_secret_is_printed_once(webhook_stack: Stack) -> None:
    # Enough lines that most are still waiting when `voxq cancel` (a process of its own) arrives.
    script = "\n".join(f"第{i}行，等着被取消。" for i in range(400)).encode()
    with webhook_stack.client() as api:
        batch = api.post("/v1/batches", files={"file": ("c.txt", script)}, data={"voice": "cmn"}).json()

        done = voxq(webhook_stack, "cancel", batch["id"])

        assert done.returncode == 0, done.stderr
        shown = api.get(f"/v1/batches/{batch['id']}").json()
        assert f"{shown['counts']['cancelled']} lines cancelled" in done.stdout and shown["counts"]["cancelled"] > 200
    assert voxq(webhook_stack, "cancel", "batch_unknown").returncode == 2
    secret = voxq(webhook_stack, "keys", "webhook-secret", "--tenant", "tenant-a")
    assert secret.returncode == 0 and secret.stdout.strip().startswith("whsec_")
    assert voxq(webhook_stack, "keys", "webhook-secret", "--tenant", "nobody").returncode == 2


def test_migrate_prints_neither_the_database_password_nor_the_new_key_to_a_log(tmp_path: Path) -> None:
    """Run as a deploy job its output is kept in logs: the URL is shown masked, the key only
    on a terminal (it is saved in the data folder)."""
    with fresh_pg_database("voxq_cli_migrate") as url:
        with_password = url.replace(":postgres@", ":hunter2-secret@")  # trust auth ignores it
        env = os.environ | {"VOXQ_DATABASE_URL": with_password, "VOXQ_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
        done = subprocess.run(
            [sys.executable, "-m", "cli", "migrate"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )

    key = (tmp_path / "local-api-key").read_text().strip()
    assert done.returncode == 0, done.stderr
    assert "database ready: postgresql+psycopg://postgres:***@" in done.stdout
    assert "hunter2-secret" not in done.stdout + done.stderr and key not in done.stdout + done.stderr
    assert "created the local API key" in done.stdout


def test_precompute_writes_an_ivr_prompt_per_file_in_a_telephone_format(sqlite_stack: Stack, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("welcome\t您好，欢迎致电。\n\n请按一号键查询余额。\n", encoding="utf-8")
    out = tmp_path / "ivr"
    done = voxq(
        sqlite_stack, "precompute", str(prompts), "--voice", "cmn", "--format", "wav_ulaw_8k", "--out-dir", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["002.wav", "welcome.wav"]
    info = sf.info(str(out / "welcome.wav"))
    assert (info.samplerate, info.subtype) == (8000, "ULAW") and info.duration > 0.5
    again = voxq(sqlite_stack, "precompute", str(prompts), "--voice", "cmn", "--out-dir", str(out))
    assert again.returncode == 0 and "2 ready in the cache, 0 to speak" in again.stdout
    bad = tmp_path / "bad.txt"
    bad.write_text("a b\t你好\n", encoding="utf-8")
    assert voxq(sqlite_stack, "precompute", str(bad)).returncode == 2


def test_version_and_a_worker_that_cannot_work_say_so() -> None:
    run = [sys.executable, "-m", "cli"]
    shown = subprocess.run([*run, "--version"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and re.fullmatch(r"voxq \d+\.\d+\.\d+\S*\n", shown.stdout)
    env = os.environ | {"VOXQ_LLM_URL": ""}
    refused = subprocess.run([*run, "worker", "llm"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "VOXQ_LLM_URL" in refused.stderr
