"""A fleet on one machine, for fault tests and the scale-out benchmark: worker hosts as Linux
network namespaces on a bridge, and a Redis and a Postgres of the fleet's own that may be
killed and restarted (never the machine's services on 6379 and 5432). Needs root.

    with Fleet(tmp_dir) as fleet:                    # bridge, private Redis and Postgres
        api = fleet.start_api()                      # the API (and its reconciler) on the bridge
        host = fleet.add_host()                      # a namespace with its own network stack
        host.start_worker("tts")                     # `voxq worker tts` on that host
        fleet.redis.restart(); host.cut(); host.kill()

Everything it made (namespaces, links, the bridge, processes) is removed on exit, also when
the block raises.
"""

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from deploy.stack import REPO, free_port, new_key

PG_BIN = Path("/usr/lib/postgresql/15/bin")
_fleets = itertools.count(1)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def wait_for_port(host: str, port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing answers on {host}:{port} after {timeout_s:.0f}s") from None
            time.sleep(0.1)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def spawn(argv: list[str], env: dict[str, str], log: Path, netns: str | None = None) -> subprocess.Popen[bytes]:
    """A process in its own process group (so a whole worker, pool children too, can be
    killed), in namespace `netns` if given, its output in `log`."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    with log.open("ab") as out:
        return subprocess.Popen(
            [*prefix, *argv], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


@dataclass
class PrivateRedis:
    """A redis-server of the fleet's own; `appendonly` keeps its data across a restart."""

    folder: Path
    bind: str
    appendonly: bool = False
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.bind}:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            self.bind,
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
            "--maxmemory-policy",
            "noeviction",
            "--protected-mode",
            "no",
        ]
        self.proc = spawn(argv, dict(os.environ), self.folder / "redis.log")
        wait_for_port(self.bind, self.port)

    def kill(self) -> None:
        """Gone at once, as a crash or a host reboot (what AOF wrote is kept)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self, down_s: float = 1.0) -> None:
        self.kill()
        time.sleep(down_s)
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


@dataclass
class PrivatePostgres:
    """A PostgreSQL 15 cluster of the fleet's own, run as the postgres user (it refuses root),
    in a folder of its own that user can reach (test folders are often root's alone)."""

    bind: str
    port: int = field(default_factory=free_port)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="voxq-pg-")))

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.bind}:{self.port}/voxq"

    def _as_postgres(self, *argv: str) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")

    def create(self) -> None:
        shutil.chown(self.folder, "postgres", "postgres")
        os.chmod(self.folder, 0o700)
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres")
        with (self.folder / "data" / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 0.0.0.0/0 trust\n")  # the fleet's hosts, on its private bridge
        self.start()
        self._as_postgres(str(PG_BIN / "createdb"), "-h", self.bind, "-p", str(self.port), "voxq")

    def start(self) -> None:
        options = f"-p {self.port} -h {self.bind} -k {self.folder} -c fsync=off -c max_connections=300"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.folder / "data"),
            "-l",
            str(self.folder / "pg.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: clients lose their connections mid-transaction."""
        with contextlib.suppress(RuntimeError):  # not running
            self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", mode, "-w", "stop")

    def restart(self, down_s: float = 5.0) -> None:
        self.stop("immediate")
        time.sleep(down_s)
        self.start()

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Host:
    """A worker host: a network namespace with one link to the fleet's bridge."""

    name: str
    address: str
    link: str  # the bridge side of its veth pair: down = cut off from the network
    fleet: "Fleet"
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_fish_standin(self, ms_per_char: float = 0.0, reuse_audio: bool = False) -> dict[str, str]:
        """A Fish Speech stand-in on this host (its "GPU"), in latency mode; returns the
        environment that points this host's TTS worker at it."""
        port = free_port()
        argv = [sys.executable, "-m", "deploy.fish_speech_standin", "--host", self.address, "--port", str(port)]
        argv += ["--ms-per-char", str(ms_per_char), *(["--reuse-audio"] if reuse_audio else [])]
        self.processes.append(spawn(argv, dict(os.environ), self.fleet.folder / f"{self.name}-fish.log", self.name))
        wait_for_port(self.address, port)
        return {"VOXQ_TTS_ENGINE": "fish_speech", "VOXQ_FISH_SPEECH_URL": f"http://{self.address}:{port}"}

    def start_worker(self, pool: str = "tts", concurrency: int = 1, **extra_env: str) -> subprocess.Popen[bytes]:
        log = self.fleet.folder / f"{self.name}-{pool}-{len(self.processes)}.log"
        argv = [sys.executable, "-m", "cli", "worker", pool, "--concurrency", str(concurrency)]
        proc = spawn(argv, self.fleet.env | extra_env, log, netns=self.name)
        self.processes.append(proc)
        return proc

    def kill(self) -> None:
        """Every process on the host, at once (a power cut, a preempted instance)."""
        pids = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        for proc in self.processes:
            proc.wait(timeout=10)
        self.processes.clear()

    def kill_workers(self) -> None:
        """Every worker process of the host, pool children too (SIGKILL to the process group)."""
        for proc in [p for p in self.processes if "worker" in p.args]:  # type: ignore[operator]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            self.processes.remove(proc)

    def cut(self) -> None:
        _ip("link", "set", self.link, "down")

    def mend(self) -> None:
        _ip("link", "set", self.link, "up")


class Fleet:
    """The bridge, the fleet's Redis and Postgres, an API, and worker hosts."""

    def __init__(self, folder: Path, redis_appendonly: bool = False, **env: str) -> None:
        number = os.getpid() % 200 + next(_fleets)
        self.folder = folder
        self.bridge = f"vqbr{os.getpid() % 10000}x{number}"[:15]
        self.subnet = f"10.{200 + number % 50}.{number % 250}"
        self.address = f"{self.subnet}.1"
        self.redis = PrivateRedis(folder / "redis", self.address, appendonly=redis_appendonly)
        self.postgres = PrivatePostgres(self.address)
        self.hosts: list[Host] = []
        self.api: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self.extra_env = env
        self.env: dict[str, str] = {}

    def __enter__(self) -> "Fleet":
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.address}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            self.redis.start()
            self.postgres.create()
            self.env = {
                **os.environ,
                "VOXQ_DATA_DIR": str(self.folder / "data"),
                "VOXQ_REDIS_URL": self.redis.url,
                "VOXQ_DATABASE_URL": self.postgres.url,
                "VOXQ_RECONCILE_IN_API": "1",
                "VOXQ_DISPATCH_IN_API": "1",
                **self.extra_env,
            }
            self.env.pop("VOXQ_API_KEY", None)
            subprocess.run(
                [sys.executable, "-m", "cli", "migrate"], env=self.env, cwd=REPO, check=True, capture_output=True
            )
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()

    def new_key(self, tenant: str) -> str:
        return new_key(self.env, tenant)

    def start_api(self) -> str:
        """The API (on the address it had, if it ran before), once it answers."""
        port = int(self.api_url.rsplit(":", 1)[1]) if self.api_url else free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "cli", "api", "--port", str(port)]
        self.api = spawn(argv, self.env | {"VOXQ_API_URL": self.api_url}, self.folder / "api.log")
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.api_url}/health", timeout=1).status_code == 200:
                    return self.api_url
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start:\n{(self.folder / 'api.log').read_text()[-3000:]}")
            time.sleep(0.2)

    def kill_api(self) -> None:
        if self.api is not None:
            os.killpg(self.api.pid, signal.SIGKILL)
            self.api.wait(timeout=10)

    def add_host(self) -> Host:
        index = len(self.hosts) + 1
        name = f"{self.bridge}h{index}"
        link, peer = f"{self.bridge[:10]}v{index}", f"{self.bridge[:10]}p{index}"
        address = f"{self.subnet}.{10 + index}"
        _ip("netns", "add", name)
        host = Host(name, address, link, self)
        self.hosts.append(host)
        _ip("link", "add", link, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", name)
        _ip("link", "set", link, "master", self.bridge)
        _ip("link", "set", link, "up")
        _ip("netns", "exec", name, "ip", "addr", "add", f"{address}/24", "dev", peer)
        _ip("netns", "exec", name, "ip", "link", "set", peer, "up")
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        return host

    def close(self) -> None:
        for host in self.hosts:
            host.kill()
            subprocess.run(["ip", "netns", "del", host.name], capture_output=True)
            subprocess.run(["ip", "link", "del", host.link], capture_output=True)
        if self.api is not None and self.api.poll() is None:
            os.killpg(self.api.pid, signal.SIGTERM)
            self.api.wait(timeout=15)
        self.redis.stop()
        self.postgres.remove()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
