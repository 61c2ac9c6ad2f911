"""Control-plane capacity: the most lines per second one API + Redis + Postgres complete on
this machine when the engine costs nothing, and the CPU each part spends per line.

The engine is the Fish Speech stand-in with `--reuse-audio` (deploy/fish_speech_standin.py):
it speaks once and answers every later line with that clip, so what is measured is VoxQueue
itself: the API accepting the chapter, Redis, Postgres (jobs and snippets), and the worker
(Celery, the Fish Speech client, checking, trimming and encoding the audio, recording it).
Worker hosts are network namespaces on a private Redis and Postgres (deploy/fleet.py; run as
root); each has its own stand-in and one worker. Prints, for each number of worker
processes, lines/s and CPU ms per line in each part, then how many GPUs one control plane
can feed at `GPU_LINES_PER_S` lines/s each: as measured here, where the workers share its
cores, and for the API + Redis + Postgres alone, as in a fleet whose workers run on the GPU
hosts; and beside it, bare Celery's rate for a task that does nothing, on the same Redis with
as many worker processes. Target: the control plane alone at 1.0 ms of CPU a line or less.

    sudo .venv/bin/python -m bench.control_plane [--workers 1 2 4] [--lines 2000] [--audio-in folder|database]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench import noop_celery
from bench.common import lines, submit, tenant_with_voice, wait_done
from bench.cpu import postmaster_pid, tree_cpu_s
from deploy.fleet import Fleet
from deploy.stack import REPO, speech_clip

GPU_LINES_PER_S = 3.0  # a Fish Speech server on one GPU, for the "how many GPUs" line
# Lines per queue message (VOXQ_TTS_GROUP_SIZE): where a line costs the engine nothing, the
# per-message work (Celery's receive and ack, two transactions) is what a group shares.
GROUP_SIZE = 16
ENV = {"VOXQ_TTS_ENGINE": "fish_speech", "VOXQ_TTS_GROUP_SIZE": str(GROUP_SIZE)}


def run(workers: int, n_lines: int, offset: int, audio_in: str) -> tuple[float, dict[str, float]]:
    """(lines/s, CPU ms per line by part) with `workers` worker hosts of one slot each, the
    snippets' audio kept in the `database` or in a `folder` (VOXQ_AUDIO_DIR) all of them share."""
    folder = Path(tempfile.mkdtemp(prefix="voxq-capacity-"))
    env = ENV | ({"VOXQ_AUDIO_DIR": str(folder / "audio")} if audio_in == "folder" else {})
    with Fleet(folder, **env) as fleet:
        hosts = []
        for _ in range(workers):
            host = fleet.add_host()
            host.start_worker("tts", **host.start_fish_standin(reuse_audio=True))
            hosts.append(host)
        with tenant_with_voice(fleet, speech_clip()) as (api, voice):
            wait_done(api, submit(api, voice, lines(4 * workers, offset)))  # warm-up
            parts = {
                "API": [fleet.api.pid] if fleet.api else [],
                "Redis": [fleet.redis.proc.pid] if fleet.redis.proc else [],
                "Postgres": [postmaster_pid(fleet.postgres.folder / "data")],
                "workers": [p.pid for h in hosts for p in h.processes if "worker" in p.args],  # type: ignore[operator]
                "engine stand-ins": [p.pid for h in hosts for p in h.processes if "worker" not in p.args],  # type: ignore[operator]
            }
            before = {part: sum(tree_cpu_s(pid) for pid in pids) for part, pids in parts.items()}
            texts = lines(n_lines, offset + 4 * workers)
            started = time.perf_counter()
            wait_done(api, submit(api, voice, texts))
            elapsed = time.perf_counter() - started
            after = {part: sum(tree_cpu_s(pid) for pid in pids) for part, pids in parts.items()}
    per_line_ms = {part: (after[part] - before[part]) * 1000 / n_lines for part in parts}
    return n_lines / elapsed, per_line_ms


def bare_celery_rate(workers: int, n_tasks: int) -> float:
    """Tasks/s of a do-nothing Celery task (bench/noop_celery.py) on a private Redis, with
    `workers` worker processes of one slot each, as VoxQueue's: the ceiling Celery sets here."""
    with Fleet(Path(tempfile.mkdtemp(prefix="voxq-noop-"))) as fleet:
        env = os.environ | {"BENCH_REDIS_URL": fleet.redis.url, "PYTHONPATH": str(REPO)}
        argv = [sys.executable, "-m", "celery", "-A", "bench.noop_celery", "worker", "--pool=prefork"]
        argv += ["--concurrency=1", "--prefetch-multiplier=1", "--without-mingle", "--without-gossip", "-l", "WARNING"]
        procs = [
            subprocess.Popen([*argv, f"--hostname=noop{i}@%h"], env=env, cwd=REPO, stdout=subprocess.DEVNULL)
            for i in range(workers)
        ]
        try:
            client = redis.Redis.from_url(fleet.redis.url)
            noop_celery.app.conf.broker_url = fleet.redis.url
            for _ in range(20):  # warm-up: every worker up and taking
                noop_celery.noop.delay()
            while int(client.get(noop_celery.COUNTER) or 0) < 20:
                time.sleep(0.05)
            client.delete(noop_celery.COUNTER)
            started = time.perf_counter()
            with noop_celery.app.producer_or_acquire() as producer:
                for _ in range(n_tasks):
                    noop_celery.noop.apply_async(producer=producer)
            while int(client.get(noop_celery.COUNTER) or 0) < n_tasks:
                time.sleep(0.01)
            return n_tasks / (time.perf_counter() - started)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--group-size", type=int, default=GROUP_SIZE, help="VOXQ_TTS_GROUP_SIZE")
    parser.add_argument(
        "--audio-in",
        choices=["folder", "database"],
        default="folder",
        help="where the snippets' audio is kept: a folder (VOXQ_AUDIO_DIR, default) or the database",
    )
    args = parser.parse_args()
    ENV["VOXQ_TTS_GROUP_SIZE"] = str(args.group_size)
    print(f"VOXQ_TTS_GROUP_SIZE={args.group_size}; the snippets' audio in the {args.audio_in}")
    best, plane_ms, best_workers = 0.0, 0.0, 1
    offset = 0
    for workers in args.workers:
        rate, per_line = run(workers, args.lines, offset, args.audio_in)
        offset += args.lines + 100
        if rate > best:
            best, plane_ms = rate, per_line["API"] + per_line["Redis"] + per_line["Postgres"]
            best_workers = workers
        control = sum(ms for part, ms in per_line.items() if part != "engine stand-ins")
        detail = ", ".join(f"{part} {ms:.2f}" for part, ms in per_line.items())
        print(f"{workers} worker hosts: {rate:7.1f} lines/s; CPU ms per line: {detail}; VoxQueue in all {control:.2f}")
    noop_rate = bare_celery_rate(best_workers, args.lines)
    print(
        f"bare Celery, a task that does nothing, {best_workers} worker processes on the same Redis: "
        f"{noop_rate:.0f} tasks/s (VoxQueue's best: {best:.0f} lines/s, "
        f"{args.group_size} lines a message)"
    )
    cores = os.cpu_count() or 1
    print(
        f"measured here, workers and stand-ins on the same {cores} cores: {best:.0f} lines/s, enough for "
        f"{best / GPU_LINES_PER_S:.0f} GPUs at {GPU_LINES_PER_S:g} lines/s each"
    )
    # In a fleet the workers run on the GPU hosts: what the control plane's own machine must
    # give is API + Redis + Postgres alone.
    plane_rate = cores * 1000 / plane_ms
    print(
        f"the control plane alone (API + Redis + Postgres, {plane_ms:.2f} ms CPU a line) on {cores} cores: "
        f"{plane_rate:.0f} lines/s, enough for {plane_rate / GPU_LINES_PER_S:.0f} GPUs at {GPU_LINES_PER_S:g} "
        "lines/s each"
    )


if __name__ == "__main__":
    main()
