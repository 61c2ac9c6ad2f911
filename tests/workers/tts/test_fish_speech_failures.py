"""How a TTS worker reacts when its Fish Speech server fails: retry what may pass, fail the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.stack import FishServer, Stack, free_port, run_fish_standin, sqlite_url, start_stack
from tests.plugins.services import wait_for
from tests.voice_factory import create_voice


@pytest.fixture
def bare_stack(tmp_path: Path, private_redis: str, fish_server: FishServer) -> Iterator[Stack]:
    """An API on Fish Speech with no worker yet: each test starts the worker it needs."""
    env = {**fish_server.env, "VOXQ_REDIS_URL": f"{private_redis}/2"}
    stack = start_stack(tmp_path, sqlite_url(tmp_path), tts_workers=0, **env)
    yield stack
    stack.stop()


def job(api, job_id: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return api.get(f"/v1/jobs/{job_id}").json()


def test_a_server_that_is_down_is_retried_until_it_is_up(bare_stack: Stack) -> None:
    port = free_port()
    bare_stack.start_worker("tts", 1, VOXQ_FISH_SPEECH_URL=f"http://127.0.0.1:{port}")
    with bare_stack.client() as api:
        voice = create_voice(api)["id"]
        job_id = api.post("/v1/synthesize", json={"text": "服务器恢复以后再试一次。", "voice": voice}).json()["id"]
        wait_for(lambda: job(api, job_id)["attempts"] >= 1, timeout=30)
        assert job(api, job_id)["status"] in ("queued", "running")  # not failed: it will be retried
        with run_fish_standin(api_key=bare_stack.env["VOXQ_FISH_SPEECH_API_KEY"], port=port):
            done = wait_for(lambda: (j := job(api, job_id))["status"] in ("succeeded", "failed") and j, timeout=60)
    assert done["status"] == "succeeded" and done["attempts"] >= 2, done


def test_a_rejected_key_fails_the_job_at_once_with_the_servers_message(bare_stack: Stack) -> None:
    bare_stack.start_worker("tts", 1, VOXQ_FISH_SPEECH_API_KEY="wrong-key")
    with bare_stack.client() as api:
        voice = create_voice(api)["id"]
        job_id = api.post("/v1/synthesize", json={"text": "密钥不对。", "voice": voice}).json()["id"]
        done = wait_for(lambda: (j := job(api, job_id))["status"] in ("succeeded", "failed") and j, timeout=30)
    assert done["status"] == "failed" and done["attempts"] == 1
    assert "401" in done["error"] and "Invalid token" in done["error"]
