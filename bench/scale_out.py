"""Scale-out: 1, 2, 4 and 8 worker hosts against one API + Redis + Postgres.

Each host is a network namespace (deploy/fleet.py; run as root) with its own Fish Speech
stand-in in latency mode, its "GPU": a line takes `MS_PER_CHAR` per character, asleep, so
eight of them fit on two cores. One TTS worker slot per host, as on a real GPU host. For each
fleet size, a chapter of `LINES_PER_HOST` lines per host goes through the API, timed from
submission until the batch is done, after a warm-up batch. One engine's rate is measured
straight against a stand-in (the Fish Speech client in a loop, no VoxQueue). Prints lines/s
and the ratio to ideal (hosts × one engine's rate). Target: at least 0.9 at 8 hosts.

    sudo .venv/bin/python -m bench.scale_out [--hosts 1 2 4 8]
"""

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import lines, submit, tenant_with_voice, wait_done
from deploy.fleet import Fleet
from deploy.stack import TRANSCRIPT, speech_clip
from shared.voices.resolve import VoiceSpec
from workers.tts.engines.fish_speech import FishSpeechEngine

MS_PER_CHAR = 16.0  # ~20 characters a line: ~0.33 s a line, 3 lines/s per "GPU" (a Fish Speech server)
LINES_PER_HOST = 40
ENV = {"VOXQ_TTS_ENGINE": "fish_speech"}


def engine_rate(base_url: str, clip: bytes, texts: list[str]) -> float:
    """Lines per second of one stand-in asked directly, one line after another."""
    voice = VoiceSpec(name="bench", reference_audio=clip, reference_text=TRANSCRIPT, reference_sha256="bench", seed=1)
    with FishSpeechEngine(base_url) as engine:
        engine.synthesize(texts[0], voice)
        started = time.perf_counter()
        for text in texts:
            engine.synthesize(text, voice)
        return len(texts) / (time.perf_counter() - started)


def run(hosts: int, offset: int) -> tuple[float, float]:
    """(VoxQueue lines/s, one engine's lines/s) with `hosts` worker hosts."""
    with Fleet(Path(tempfile.mkdtemp(prefix="voxq-scale-")), **ENV) as fleet:
        engines = []
        for _ in range(hosts):
            host = fleet.add_host()
            engines.append(host.start_fish_standin(MS_PER_CHAR))
            host.start_worker("tts", **engines[-1])
        clip = speech_clip()
        with tenant_with_voice(fleet, clip) as (api, voice):
            wait_done(api, submit(api, voice, lines(2 * hosts, offset)))  # warm-up: every worker has its voice
            texts = lines(LINES_PER_HOST * hosts, offset + 2 * hosts)
            started = time.perf_counter()
            wait_done(api, submit(api, voice, texts))
            rate = len(texts) / (time.perf_counter() - started)
        one = engine_rate(engines[0]["VOXQ_FISH_SPEECH_URL"], clip, lines(20, offset + 10_000))
    return rate, one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    print(f"{'hosts':>5}  {'lines':>5}  {'VoxQueue lines/s':>16}  {'one engine lines/s':>18}  {'ratio to ideal':>14}")
    offset = 0
    for hosts in args.hosts:
        rate, one = run(hosts, offset)
        offset += 100 * hosts
        print(f"{hosts:>5}  {LINES_PER_HOST * hosts:>5}  {rate:>16.2f}  {one:>18.2f}  {rate / (hosts * one):>14.2f}")


if __name__ == "__main__":
    main()
