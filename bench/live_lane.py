"""Live behind bulk, and fair share, on 2 TTS workers (embedded espeak-ng).

1. Live lines through `POST /v1/audio/speech`, one at a time, on an idle stack and then right
   after a 10,000-line batch was accepted: each line's latency, p50 and p95. Target: p95
   behind the batch at most the idle p95 plus the longest single line's engine time.
2. Fair share: a 20-line batch of another tenant sent right after a 5,000-line batch: when
   each finishes.
3. Added latency: 40 new short lines one at a time through `/v1/audio/speech` on the idle
   stack, minus the engine's own time for the same lines (measured here, in this run).
   Target: p50 added under 15 ms.
4. Time to first audio for a 10-sentence text: streamed (`stream_format: audio`) vs whole.

    .venv/bin/python -m bench.live_lane
"""

import statistics
import time

import httpx

from bench.common import dev_sentences, scratch_dir, streamed_speech_timing, unique_lines
from deploy.stack import Stack, sqlite_url, start_stack
from shared.voices.resolve import VoiceSpec
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


def first_audio(api: httpx.Client, text: str, stream: bool) -> tuple[float, float]:
    """(seconds to the first audio sample, seconds to the end) of one speech request."""
    body = {"model": "tts-1", "voice": "cmn", "input": text, "response_format": "wav"}
    if stream:
        body["stream_format"] = "audio"
    return streamed_speech_timing(api, body, time.perf_counter())


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
            short = [text[:12] for text in texts[-60:-20]]
            engine_s = [_timed(engine, text) for text in short]
            added = [lat - eng for lat, eng in zip(live_latencies(api, short), engine_s, strict=True)]
            print(
                f"added latency of /v1/audio/speech over the engine, {len(short)} new short lines: "
                f"p50 {statistics.median(added) * 1000:.1f} ms, p95 {p95(added) * 1000:.1f} ms (target p50 < 15 ms)"
            )
            story = "".join(dev_sentences()[100:110])  # ten sentences, each ending with its own mark
            for stream in (False, True):
                first, whole = first_audio(api, story, stream)
                print(
                    f"10 sentences, {'streamed' if stream else 'whole   '}: first audio after {first * 1000:.0f} ms, "
                    f"all of it after {whole * 1000:.0f} ms"
                )
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
