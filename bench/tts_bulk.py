"""Bulk synthesis end to end against raw espeak-ng, on the same lines and the same 2 processes.

VoxQueue: one batch of 1,000 lines through the API, Redis, a TTS worker with 2 processes,
espeak-ng and the database, timed from submission until the batch is done.
Raw: the same 1,000 lines spoken by `espeak-ng` on 2 processes, nothing else.
Target: VoxQueue's rate ≥ 0.8 × the raw rate.
"""

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import scratch_dir, unique_lines
from shared.text import clean
from shared.text_normalize import normalize_zh
from tests.plugins.services import sqlite_url, start_stack

LINES = 1_000
PROCESSES = 2


def raw_espeak(lines: list[str]) -> float:
    def speak(text: str) -> None:
        cmd = ["espeak-ng", "-v", "cmn", "-s", "175", "-b", "1", "--stdout"]
        subprocess.run(cmd, input=text.encode(), capture_output=True, check=True)

    start = time.perf_counter()
    # Threads only wait on the espeak-ng processes, so this runs 2 espeak-ng at a time.
    with ThreadPoolExecutor(PROCESSES) as pool:
        list(pool.map(speak, lines))
    return time.perf_counter() - start


def voxqueue(lines: list[str]) -> float:
    folder = scratch_dir("voxq-bench-tts-")
    stack = start_stack(folder, sqlite_url(folder), tts_workers=PROCESSES)
    try:
        time.sleep(3)  # let the worker's processes come up before the clock starts
        with stack.client() as api:
            script = "\n".join(lines).encode()
            start = time.perf_counter()
            batch = api.post("/v1/batches", files={"file": ("bench.txt", script)}, data={"voice": "cmn"}).json()
            last = -1
            while True:
                info = api.get(f"/v1/batches/{batch['id']}").json()
                finished = info["counts"]["succeeded"] + info["counts"]["failed"]
                if finished // 100 != last // 100:
                    print(f"  voxqueue: {finished}/{LINES} lines", flush=True)
                    last = finished
                if info["done"]:
                    break
                time.sleep(0.1)
            elapsed = time.perf_counter() - start
            assert info["counts"]["failed"] == 0, info
    finally:
        stack.stop()
    return elapsed


def main() -> None:
    lines = unique_lines(LINES)
    # Raw espeak-ng gets the text exactly as VoxQueue's workers do (cleaned, numbers as words).
    raw_time = raw_espeak([normalize_zh(clean(line)) for line in lines])
    print(f"raw espeak-ng, {PROCESSES} processes: {LINES / raw_time:.1f} lines/s ({raw_time:.1f} s)")
    vq_time = voxqueue(lines)
    print(f"VoxQueue end to end, {PROCESSES} worker processes: {LINES / vq_time:.1f} lines/s ({vq_time:.1f} s)")
    print(f"ratio VoxQueue / raw: {raw_time / vq_time:.2f} (target ≥ 0.8)")


if __name__ == "__main__":
    main()
