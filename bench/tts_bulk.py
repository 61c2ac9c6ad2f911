"""Bulk synthesis end to end against raw espeak-ng, on the same lines and the same 2 processes.

VoxQueue: one batch of 1,000 lines through the API, Redis, a TTS worker with 2 processes,
libespeak-ng and the database, timed from submission until the batch is done.
Raw, two ways, on the same 1,000 lines and 2 processes, nothing else:
- the `espeak-ng` command line, one process per line (what the worker used to run);
- libespeak-ng through VoxQueue's own binding (`EspeakEngine`) in a bare loop, which is
  what the worker runs now: the honest baseline, since it pays no process start per line.
Target: VoxQueue's rate ≥ 0.8 × the raw rate.
"""

import multiprocessing
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import scratch_dir, unique_lines
from deploy.stack import sqlite_url, start_stack
from shared.text.normalize import normalize_zh
from shared.text.sentences import clean
from shared.voices.resolve import VoiceSpec
from workers.tts.engines.espeak import EspeakEngine

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


_engine: EspeakEngine | None = None


def _start_engine() -> None:
    global _engine
    _engine = EspeakEngine()
    _engine.synthesize("你好。", VoiceSpec(name="cmn"))  # load the library and the voice


def _speak_with_library(text: str) -> None:
    assert _engine is not None
    _engine.synthesize(text, VoiceSpec(name="cmn"))


def raw_library(lines: list[str]) -> float:
    # Each pool process loads the library once, before the clock starts (as the worker's do).
    with multiprocessing.get_context("spawn").Pool(PROCESSES, initializer=_start_engine) as pool:
        pool.map(_speak_with_library, ["你好。"] * PROCESSES * 4, chunksize=1)
        start = time.perf_counter()
        pool.map(_speak_with_library, lines, chunksize=8)
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
    # The raw runs get the text exactly as VoxQueue's workers do (cleaned, numbers as words).
    spoken = [normalize_zh(clean(line)) for line in lines]
    cli_time = raw_espeak(spoken)
    print(f"raw espeak-ng CLI, {PROCESSES} processes:      {LINES / cli_time:6.1f} lines/s ({cli_time:.1f} s)")
    lib_time = raw_library(spoken)
    print(f"raw libespeak-ng loop, {PROCESSES} processes:  {LINES / lib_time:6.1f} lines/s ({lib_time:.1f} s)")
    vq_time = voxqueue(lines)
    print(f"VoxQueue end to end, {PROCESSES} processes:    {LINES / vq_time:6.1f} lines/s ({vq_time:.1f} s)")
    print(f"ratio VoxQueue / raw CLI:     {cli_time / vq_time:.2f} (target ≥ 0.8)")
    print(f"ratio VoxQueue / raw library: {lib_time / vq_time:.2f} (target ≥ 0.8)")


if __name__ == "__main__":
    main()
