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
hosts. Target: well past 340 lines/s.

    sudo .venv/bin/python -m bench.control_plane [--workers 1 2 4] [--lines 2000]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import lines, submit, tenant_with_voice, wait_done
from bench.cpu import postmaster_pid, tree_cpu_s
from deploy.fleet import Fleet
from deploy.stack import speech_clip

GPU_LINES_PER_S = 3.0  # a Fish Speech server on one GPU, for the "how many GPUs" line
# Lines per queue message (VOXQ_TTS_GROUP_SIZE): where a line costs the engine nothing, the
# per-message work (Celery's receive and ack, two transactions) is what a group shares.
GROUP_SIZE = 16
ENV = {"VOXQ_TTS_ENGINE": "fish_speech", "VOXQ_TTS_GROUP_SIZE": str(GROUP_SIZE)}


def run(workers: int, n_lines: int, offset: int) -> tuple[float, dict[str, float]]:
    """(lines/s, CPU ms per line by part) with `workers` worker hosts of one slot each."""
    with Fleet(Path(tempfile.mkdtemp(prefix="voxq-capacity-")), **ENV) as fleet:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--group-size", type=int, default=GROUP_SIZE, help="VOXQ_TTS_GROUP_SIZE")
    args = parser.parse_args()
    ENV["VOXQ_TTS_GROUP_SIZE"] = str(args.group_size)
    print(f"VOXQ_TTS_GROUP_SIZE={args.group_size}")
    best, plane_ms = 0.0, 0.0
    offset = 0
    for workers in args.workers:
        rate, per_line = run(workers, args.lines, offset)
        offset += args.lines + 100
        if rate > best:
            best, plane_ms = rate, per_line["API"] + per_line["Redis"] + per_line["Postgres"]
        control = sum(ms for part, ms in per_line.items() if part != "engine stand-ins")
        detail = ", ".join(f"{part} {ms:.2f}" for part, ms in per_line.items())
        print(f"{workers} worker hosts: {rate:7.1f} lines/s; CPU ms per line: {detail}; VoxQueue in all {control:.2f}")
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
