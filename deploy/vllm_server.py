"""The real vLLM CPU server, for tests (a session-scoped fixture) and benchmarks.

It builds the tiny random-weight Qwen3 model (``deploy/vllm-cpu/tiny_model.py``) in a temp
folder, serves it with ``deploy/vllm-cpu/serve.sh`` on a free port, and stops it at the end of
the session. The vLLM virtualenv comes from ``deploy/vllm-cpu/setup.sh``; without it the
fixture fails, it never skips: CI installs it, and a silent skip would hide the LLM pool's
tests.

The fixture is ``tests/plugins/vllm_server.py``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy" / "vllm-cpu"
# Same variable and default as setup.sh and serve.sh.
VLLM_VENV = Path(os.environ.get("VOXQ_VLLM_VENV", REPO / ".venv-vllm"))
SERVED_MODEL = "tiny-qwen3"
STARTUP_TIMEOUT_S = 180.0
LOG_TAIL_LINES = 60


@dataclass(frozen=True)
class VLLMServer:
    base_url: str  # ".../v1", what VOXQ_LLM_URL takes
    model: str  # the served model name requests must send
    model_dir: Path
    log_path: Path
    startup_s: float  # from launch to the first healthy /health

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


class VLLMSetupError(RuntimeError):
    """Raised when the vLLM server cannot be built or started; the message says why."""


def vllm_python() -> Path:
    python = VLLM_VENV / "bin" / "python"
    if not python.exists():
        raise VLLMSetupError(
            f"No vLLM virtualenv at {VLLM_VENV}. Run `bash deploy/vllm-cpu/setup.sh` "
            "(or set VOXQ_VLLM_VENV to an existing one); the vllm tests need the real server."
        )
    return python


def build_tiny_model(out_dir: Path, model_args: Sequence[str] = ()) -> Path:
    """Build the tiny test model into ``out_dir`` with the vLLM virtualenv's interpreter."""
    done = subprocess.run(
        [str(vllm_python()), str(DEPLOY / "tiny_model.py"), str(out_dir), *model_args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise VLLMSetupError(f"building the tiny model failed:\n{done.stdout}\n{done.stderr}")
    return out_dir


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # serve.sh execs the server in its own session: signal the whole group, children too.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def _wait_healthy(process: subprocess.Popen[bytes], root_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise VLLMSetupError(
                f"vLLM server exited with code {process.returncode} before it was healthy; "
                f"log tail ({log_path}):\n{_log_tail(log_path)}"
            )
        try:
            if httpx.get(f"{root_url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise VLLMSetupError(
        f"vLLM server not healthy after {STARTUP_TIMEOUT_S:.0f}s; log tail ({log_path}):\n{_log_tail(log_path)}"
    )


@contextmanager
def running_vllm_server(workdir: Path, model_args: Sequence[str] = ()) -> Iterator[VLLMServer]:
    """Build the tiny model in ``workdir`` (``model_args``: tiny_model.py options), serve it on
    a free port until the block ends."""
    model_dir = build_tiny_model(workdir / SERVED_MODEL, model_args)
    port = _free_port()
    log_path = workdir / "server.log"
    env = {**os.environ, "VOXQ_VLLM_SERVED_NAME": SERVED_MODEL, "VOXQ_VLLM_SCRATCH": str(workdir / "scratch")}
    env.pop("VLLM_CPU_KVCACHE_SPACE", None)
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["bash", str(DEPLOY / "serve.sh"), str(model_dir), str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    root_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, root_url, log_path)
        server = VLLMServer(
            base_url=f"{root_url}/v1",
            model=SERVED_MODEL,
            model_dir=model_dir,
            log_path=log_path,
            startup_s=time.monotonic() - started,
        )
        logger.info("vLLM server healthy at %s after %.1fs", server.base_url, server.startup_s)
        yield server
    finally:
        _stop(process)
