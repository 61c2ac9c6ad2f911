"""Time to first audio of a spoken LLM reply: speak as you generate vs generate then speak.

Real vLLM (CPU build, the tiny random-weight Qwen3 model made here), one LLM worker, and one
TTS worker on the Fish Speech stand-in in its latency mode (`--ms-per-char`, a GPU-like
time per character, so that speaking takes time as it does on a real server). The replies
are cut into pieces of at most 30 characters (VOXQ_MAX_CHUNK_CHARS): the random model
rarely writes a full stop, and a 200-token reply then makes about ten sentences, as a
spoken answer would.

Three ways to hear the same kind of reply, each timed from the request to the first audio
in the client's hands, and to the last:
- generate then speak (`speak`): the reply's one synthesis job, spoken when the reply is done;
- generate, then stream the speech (`/v1/audio/speech`, `stream_format: audio`);
- speak as you generate (`stream` + `speak`, audio inline as base64).

    .venv/bin/python -m bench.speak_as_generated [--rounds 5] [--ms-per-char 30]
"""

import argparse
import statistics
import time

import httpx

from bench.common import scratch_dir, streamed_speech_timing
from cli.events import read_events
from deploy.stack import TRANSCRIPT, run_fish_standin, speech_clip, sqlite_url, start_stack
from deploy.vllm_server import running_vllm_server

MAX_TOKENS = 200


def generate_then_speak(api: httpx.Client, voice: str, prompt: str) -> tuple[float, float, int]:
    started = time.perf_counter()
    job = _finished(api, api.post("/v1/generate", json=_ask(prompt, voice)).json()["id"])
    speech = _finished(api, job["result"]["speech_job_id"])
    api.get(f"/v1/jobs/{speech['id']}/audio").raise_for_status()
    elapsed = time.perf_counter() - started
    return elapsed, elapsed, len(job["result"]["text"])


def generate_then_stream(api: httpx.Client, voice: str, prompt: str) -> tuple[float, float, int]:
    started = time.perf_counter()
    ask = _ask(prompt, voice)
    del ask["speak"]
    text = _finished(api, api.post("/v1/generate", json=ask).json()["id"])["result"]["text"]
    body = {"model": "tts-1", "voice": voice, "input": text, "response_format": "wav", "stream_format": "audio"}
    first, last = streamed_speech_timing(api, body, started)
    return first, last, len(text)


def speak_as_generated(api: httpx.Client, voice: str, prompt: str) -> tuple[float, float, int]:
    started = time.perf_counter()
    first = 0.0
    body = _ask(prompt, voice) | {"stream": True, "stream_audio": "base64"}
    with api.stream("POST", "/v1/generate", json=body, timeout=300) as r:
        r.raise_for_status()
        for name, data in read_events(r.iter_lines()):
            if name == "audio" and not first:
                first = time.perf_counter() - started
            if name == "done":
                text = data["result"]["text"]
    return first, time.perf_counter() - started, len(text)


def _ask(prompt: str, voice: str) -> dict:  # type: ignore[type-arg]
    return {"input": prompt, "max_tokens": MAX_TOKENS, "temperature": 0.8, "speak": {"voice": voice}}


def _finished(api: httpx.Client, job_id: str) -> dict:  # type: ignore[type-arg]
    while (job := api.get(f"/v1/jobs/{job_id}", params={"wait": 30}).json())["status"] not in ("succeeded", "failed"):
        pass
    if job["status"] != "succeeded":
        raise RuntimeError(f"job {job_id} failed: {job['error']}")
    return job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ms-per-char", type=float, default=30.0, help="the Fish stand-in's speaking time")
    args = parser.parse_args()
    folder = scratch_dir("voxq-bench-speak-")
    with running_vllm_server(folder / "vllm") as llm, run_fish_standin(ms_per_char=args.ms_per_char) as fish:
        stack = start_stack(
            folder,
            sqlite_url(folder),
            tts_workers=0,
            VOXQ_LLM_URL=llm.base_url,
            VOXQ_LLM_MODEL=llm.model,
            VOXQ_MAX_CHUNK_CHARS="30",
            **fish.env,
        )
        try:
            stack.start_worker("tts", 1)
            stack.start_worker("llm", 4)
            with stack.client() as api:
                files = {"audio": ("reference.wav", speech_clip(), "audio/wav")}
                r = api.post("/v1/voices", files=files, data={"transcript": TRANSCRIPT})
                r.raise_for_status()
                voice = str(r.json()["id"])
                speak_as_generated(api, voice, "热身")  # the first request of a worker loads its engines
                ways = [
                    ("generate then speak        ", generate_then_speak),
                    ("generate, then stream it   ", generate_then_stream),
                    ("speak as you generate (SSE)", speak_as_generated),
                ]
                print(
                    f"{args.rounds} replies of up to {MAX_TOKENS} tokens each way; Fish stand-in at "
                    f"{args.ms_per_char:g} ms/char; medians:"
                )
                for n, (label, way) in enumerate(ways):
                    runs = [way(api, voice, f"第{n}-{i}个故事，请讲给我听。") for i in range(args.rounds)]
                    first = statistics.median(run[0] for run in runs)
                    last = statistics.median(run[1] for run in runs)
                    chars = statistics.median(run[2] for run in runs)
                    print(f"  {label}: first audio {first:6.2f} s, all of it {last:6.2f} s ({chars:.0f} chars)")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
