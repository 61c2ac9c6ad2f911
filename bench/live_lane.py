"""Live behind bulk, and fair share, on 2 TTS workers (embedded espeak-ng).

1. Live lines through `POST /v1/audio/speech`, one at a time, on an idle stack and then right
   after a 10,000-line batch was accepted: each line's latency, p50 and p95. Target: p95
   behind the batch at most the idle p95 plus the longest single line's engine time.
2. Fair share: a 20-line batch of another tenant sent right after a 5,000-line batch: when
   each finishes.

    .venv/bin/python -m bench.live_lane
"""

import statistics
import time

import httpx

from bench.common import scratch_dir, unique_lines
from deploy.stack import Stack, sqlite_url, start_stack
from shared.voices import VoiceSpec
from workers.tts.engines.espeak import EspeakEngine

LIVE_LINES = 20
BIG_BATCH = 10_000


def live_latencies(api: httpx.Client, texts: list[str]) -> list[float]:
    latencies = []
    for text in texts:
        started = time.perf_counter()
        r = api.post(
            "/v1/audio/speech", json={"model": "tts-1", "voice": "cmn", "input": text, "response_format": "wav"}
        )
        r.raise_for_status()
        latencies.append(time.perf_counter() - started)
    return latencies


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def batch(api: httpx.Client, texts: list[str]) -> str:
    r = api.post("/v1/batches", files={"file": ("b.txt", "\n".join(texts).encode())}, data={"voice": "cmn"})
    r.raise_for_status()
    return str(r.json()["id"])


def done_at(api: httpx.Client, batch_id: str, started: float) -> float:
    while not api.get(f"/v1/batches/{batch_id}", params={"wait": 30}).json()["done"]:
        pass
    return time.perf_counter() - started


def main() -> None:
    texts = unique_lines(BIG_BATCH + 2 * LIVE_LINES + 5_020)  # all distinct: no line is a cache hit
    idle_texts = texts[BIG_BATCH : BIG_BATCH + LIVE_LINES]
    behind_texts = texts[BIG_BATCH + LIVE_LINES : BIG_BATCH + 2 * LIVE_LINES]
    large_texts = texts[BIG_BATCH + 2 * LIVE_LINES : -20]
    small_texts = texts[-20:]
    engine = EspeakEngine()
    longest = max(_timed(engine, text) for text in idle_texts + behind_texts)
    folder = scratch_dir("voxq-bench-live-")
    stack: Stack = start_stack(folder, sqlite_url(folder), tts_workers=2)
    try:
        with stack.client() as api:
            idle = live_latencies(api, idle_texts)
            big = batch(api, texts[:BIG_BATCH])
            behind = live_latencies(api, behind_texts)
            print(
                f"live lines on an idle stack:     p50 {statistics.median(idle) * 1000:6.0f} ms, "
                f"p95 {p95(idle) * 1000:6.0f} ms"
            )
            print(
                f"live lines behind {BIG_BATCH:,} lines: p50 {statistics.median(behind) * 1000:6.0f} ms, "
                f"p95 {p95(behind) * 1000:6.0f} ms (target: p95 at most {(p95(idle) + longest) * 1000:.0f} ms, "
                f"the idle p95 + the longest line's engine time {longest * 1000:.0f} ms)"
            )
            done_at(api, big, time.perf_counter())  # drain before the fair-share run
            other = stack.new_key("tenant-b")
            with stack.client(other) as api_b:
                started = time.perf_counter()
                large = batch(api, large_texts)
                small = batch(api_b, small_texts)
                small_s = done_at(api_b, small, started)
                large_s = done_at(api, large, started)
            print(
                f"fair share: a 20-line batch sent after a 5,000-line one finished after {small_s:.1f} s; "
                f"the 5,000-line one after {large_s:.1f} s"
            )
    finally:
        stack.stop()


def _timed(engine: EspeakEngine, text: str) -> float:
    started = time.perf_counter()
    engine.synthesize(text, VoiceSpec(name="cmn"))
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
