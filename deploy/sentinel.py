"""A Redis that fails over, on one machine, for fault tests and benchmarks: one primary, one
replica and three Sentinels (quorum 2), as processes of the caller's own on free loopback ports
in a folder of its own; never the machine's Redis on 6379.

    with SentinelRedis(folder, password="pw", sentinel_password="spw") as redis:
        env = redis.env                    # VOXQ_REDIS_URL (sentinel://...) and the rest
        killed_at = redis.kill_primary()   # SIGKILL, as a crash; returns time.monotonic()
        switched = redis.wait_for_failover(timeout_s=30)  # the new primary's port

The Sentinels mark a primary down after `down_after_ms` (1 s, against the 30 s default) and
need two of three to agree, so a failover here takes seconds. Everything started is stopped
on exit, also when the block raises. `redis-server sentinel.conf --sentinel` is the same
program as `redis-sentinel`, so only the redis-server package is needed.
"""

import contextlib
import functools
import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from deploy.stack import free_port

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"


@dataclass
class Node:
    """One redis-server process: a Redis (primary or replica) or a Sentinel."""

    name: str
    port: int
    folder: Path
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "log").open("ab") as log:
            self.proc = subprocess.Popen(self.argv, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Gone at once, with no chance to tell anyone: a crash or a lost host."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class SentinelRedis:
    """A primary, a replica and three Sentinels that watch them as `master_name`.

    `password` is the Redis servers' (requirepass and masterauth on both, as either may become
    the primary; in the URL). `sentinel_password` is the Sentinels' own (their requirepass,
    which they also use with each other; VOXQ_REDIS_SENTINEL_PASSWORD)."""

    folder: Path
    password: str | None = None
    sentinel_password: str | None = None
    master_name: str = "mymaster"
    down_after_ms: int = 1000
    failover_timeout_ms: int = 5000
    db: int = 0
    redis_nodes: list[Node] = field(default_factory=list)
    sentinels: list[Node] = field(default_factory=list)
    primary_port: int = 0  # the primary at start, then as the Sentinels last said
    killed_port: int | None = None  # the primary `kill_primary` killed

    # --- addresses ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """VOXQ_REDIS_URL: kombu's sentinel:// list, the Redis password and db in its first part."""
        auth = f":{self.password}@" if self.password else ""
        first, *rest = self.sentinels
        return ";".join(
            [f"sentinel://{auth}{HOST}:{first.port}/{self.db}"] + [f"sentinel://{HOST}:{n.port}" for n in rest]
        )

    @property
    def env(self) -> dict[str, str]:
        """The VOXQ_ settings that point a VoxQueue process at this Redis through its Sentinels."""
        env = {"VOXQ_REDIS_URL": self.url, "VOXQ_REDIS_SENTINEL_MASTER": self.master_name}
        if self.sentinel_password:
            env["VOXQ_REDIS_SENTINEL_PASSWORD"] = self.sentinel_password
        return env

    def direct(self, port: int) -> redis.Redis:
        """A client of one Redis server, bypassing the Sentinels (for checks)."""
        return redis.Redis(HOST, port, db=self.db, password=self.password, socket_timeout=2)

    def sentinel_client(self, node: Node) -> redis.Redis:
        return redis.Redis(HOST, node.port, password=self.sentinel_password, socket_timeout=2, decode_responses=True)

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> "SentinelRedis":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        primary, replica = free_port(), free_port()
        self.primary_port = primary
        self.redis_nodes = [
            Node("redis-a", primary, self.folder / "redis-a", self._redis_argv(primary, None, "redis-a")),
            Node("redis-b", replica, self.folder / "redis-b", self._redis_argv(replica, primary, "redis-b")),
        ]
        for node in self.redis_nodes:
            node.start()
        for node in self.redis_nodes:
            _wait_for(functools.partial(self._answers, node.port), f"{node.name} on port {node.port}")
        _wait_for(lambda: self._replica_in_sync(replica), "the replica's first sync", timeout_s=30)
        for index in range(3):
            port = free_port()
            folder = self.folder / f"sentinel-{index + 1}"
            folder.mkdir(parents=True, exist_ok=True)
            # Sentinel rewrites its config file (what it learns, its own id), so each has its own.
            conf = folder / "sentinel.conf"
            conf.write_text(self._sentinel_conf(port, primary))
            node = Node(f"sentinel-{index + 1}", port, folder, ["redis-server", str(conf), "--sentinel"])
            self.sentinels.append(node)
            node.start()
        _wait_for(self._sentinels_agree, "the Sentinels to find the replica and each other", timeout_s=30)
        logger.info("Redis primary %d, replica %d, Sentinels %s", primary, replica, [n.port for n in self.sentinels])

    def stop(self) -> None:
        for node in [*self.sentinels, *self.redis_nodes]:
            node.stop()

    def _redis_argv(self, port: int, replica_of: int | None, folder: str) -> list[str]:
        # No persistence: a killed server comes back empty, as a lost host's replacement would.
        argv = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        argv += ["--protected-mode", "no", "--dir", str(self.folder / folder)]
        if self.password:
            argv += ["--requirepass", self.password, "--masterauth", self.password]
        if replica_of is not None:
            argv += ["--replicaof", HOST, str(replica_of)]
        return argv

    def _sentinel_conf(self, port: int, primary: int) -> str:
        name = self.master_name
        lines = [
            f"port {port}",
            f"bind {HOST}",
            "protected-mode no",
            f"dir {self.folder}",
            f"sentinel monitor {name} {HOST} {primary} 2",
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
            f"sentinel failover-timeout {name} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {name} 1",
        ]
        if self.password:
            lines.append(f"sentinel auth-pass {name} {self.password}")
        if self.sentinel_password:
            lines.append(f"requirepass {self.sentinel_password}")
        return "\n".join(lines) + "\n"

    def _answers(self, port: int) -> bool:
        return bool(self.direct(port).ping())

    def _replica_in_sync(self, port: int) -> bool:
        info = self.direct(port).info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_agree(self) -> bool:
        for node in self.sentinels:
            state: Any = self.sentinel_client(node).sentinel_master(self.master_name)
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < len(self.sentinels) - 1:
                return False
        return True

    # --- faults ----------------------------------------------------------------------------

    def primary(self) -> int:
        """The primary's port as a live Sentinel says."""
        for node in self.sentinels:
            if node.alive:
                with contextlib.suppress(redis.RedisError):
                    self.primary_port = self._named_primary(node)
                    return self.primary_port
        raise RuntimeError("no Sentinel answers")

    def _named_primary(self, sentinel: Node) -> int:
        """The primary's port as `sentinel` names it (SENTINEL GET-MASTER-ADDR-BY-NAME)."""
        answer: Any = self.sentinel_client(sentinel).sentinel_get_master_addr_by_name(self.master_name)
        return int(answer[1])

    def kill_primary(self) -> float:
        """SIGKILL the current primary; the moment it was killed (time.monotonic())."""
        port = self.primary()
        [node] = [n for n in self.redis_nodes if n.port == port]
        node.kill()
        self.killed_port = port
        killed_at = time.monotonic()
        logger.info("killed the Redis primary on port %d", port)
        return killed_at

    def wait_for_failover(self, timeout_s: float = 30.0, poll_s: float = 0.05) -> int:
        """The new primary's port, once every live Sentinel names a primary other than the
        one killed and that primary accepts writes; RuntimeError after `timeout_s`."""
        assert self.killed_port is not None, "kill_primary first"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            named = set()
            for node in self.sentinels:
                if node.alive:
                    with contextlib.suppress(redis.RedisError):
                        named.add(self._named_primary(node))
            if len(named) == 1 and self.killed_port not in named:
                [port] = named
                with contextlib.suppress(redis.RedisError):
                    if self.direct(port).info("replication").get("role") == "master":
                        self.primary_port = port
                        return port
            time.sleep(poll_s)
        raise RuntimeError(f"no failover within {timeout_s:.0f}s; Sentinel logs in {self.folder}")

    def restart_killed(self) -> None:
        """Start the killed server again: the Sentinels make it a replica of the new primary."""
        [node] = [n for n in self.redis_nodes if n.port == self.killed_port]
        node.start()


def _wait_for(ready: Callable[[], object], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if ready():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {timeout_s:.0f}s for {what}")
        time.sleep(0.1)
