"""`voxq demo`: the embedded default end to end on one machine, with no GPU and no model server."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from pydantic import SecretStr
from rich.console import Console

from cli.client import ApiError, Client
from cli.exit_codes import ExitCode
from cli.progress import follow_batch
from shared.config import get_settings
from shared.migrate import upgrade
from shared.tenants.local import ensure_local_key


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_api(url: str, api: subprocess.Popen[bytes], log: Path, timeout_s: float = 30) -> None:
    """Until the API it started answers; says why not if it stopped (its log's last lines) or
    never answered."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if api.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
            raise ApiError(
                f"the API stopped at start (exit {api.returncode}); the end of {log}:\n{tail}", ExitCode.FAILED
            )
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise ApiError(f"the API did not answer at {url} within {timeout_s:.0f}s; see {log}", ExitCode.FAILED)


def _spawn(voxq_args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "cli", *voxq_args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def run_demo(script: Path, out: Path, port: int, console: Console) -> None:
    if not script.is_file():
        raise ApiError(f"no such script: {script}", ExitCode.USAGE)
    settings = get_settings()
    console.print(f"[bold]1/5[/bold] migrating {settings.sqlalchemy_url}")
    upgrade()
    key, created = ensure_local_key()
    if created:
        console.print(f"      local API key created (saved in {settings.local_key_file})")
    api_url = f"http://127.0.0.1:{port}"
    if not _port_free(port):
        raise ApiError(
            f"port {port} is taken by another program; run `voxq demo --port {port + 1}` (or stop that program)",
            ExitCode.USAGE,
        )
    env = os.environ | {"VOXQ_API_URL": api_url}
    logs = settings.data_dir.expanduser()
    console.print(f"[bold]2/5[/bold] starting a TTS worker (espeak-ng) and the API on {api_url}; logs in {logs}")
    procs = [
        _spawn(["worker", "tts"], env, logs / "demo-worker.log"),
        _spawn(["api", "--port", str(port)], env, logs / "demo-api.log"),
    ]
    try:
        _wait_for_api(api_url, procs[1], logs / "demo-api.log")
        console.print(f"[bold]3/5[/bold] submitting {script}")
        # model_copy does not validate: the key goes in as the SecretStr (or None) the field holds.
        secret = SecretStr(key) if key is not None else None
        client = Client(settings.model_copy(update={"api_url": api_url, "api_key": secret}))
        with script.open("rb") as f:
            batch = client.json("POST", "/v1/batches", files={"file": (script.name, f)}, data={"voice": "cmn"})
        console.print(f"[bold]4/5[/bold] batch {batch['id']}: {batch['lines']} lines")
        batch = follow_batch(client, batch, console)
        if batch["counts"]["failed"]:
            raise ApiError(f"{batch['counts']['failed']} lines failed; see {logs / 'demo-worker.log'}", ExitCode.FAILED)
        audio = client.request("GET", f"/v1/batches/{batch['id']}/audio", params={"format": "wav"}, timeout=300)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(audio.content)
        console.print(f"[bold]5/5[/bold] chapter audio written to [green]{out.resolve()}[/green]")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
