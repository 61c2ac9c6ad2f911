"""How each worker pool is started: the exact `celery worker` arguments.

tts: one process per engine slot. A Fish Speech server serves one request at a time, so a
     TTS worker has exactly one slot per server it fronts (concurrency 1, prefetch 1);
     espeak-ng runs on the worker's own CPU, so there it gets one slot per core.
     With the embedded espeak-ng engine it also takes the `media` queue: one host does it all.
llm: threads, many requests in flight per worker, because vLLM batches whatever is in flight.
     A dialect message carries llm_group_size jobs, so llm_concurrency / llm_group_size
     threads keep llm_concurrency chats in flight (a generation message carries one).
media: books assembled with ffmpeg, on the CPU: one process per core by default. On a GPU
     fleet it runs on its own CPU-only hosts, so a long build never holds a GPU slot.
webhooks (`voxq worker webhooks`) is no Celery pool: the webhook sender takes the due webhooks
     from the database (shared/webhooks/sender.py), so it has no arguments here.
"""

import os

from shared.config import get_settings


def worker_argv(pool: str, concurrency: int | None = None) -> list[str]:
    settings = get_settings()
    queues = pool
    if pool == "tts":
        default = (os.cpu_count() or 1) if settings.tts_engine == "espeak" else 1
        slots, kind = concurrency or default, "prefork"
        if settings.tts_engine == "espeak":
            queues = "tts,media"
    elif pool == "media":
        slots, kind = concurrency or (os.cpu_count() or 1), "prefork"
    else:
        default = max(1, -(-settings.llm_concurrency // settings.llm_group_size))  # ceiling division
        slots, kind = concurrency or default, "threads"
    return [
        "worker",
        f"--queues={queues}",
        f"--pool={kind}",
        f"--concurrency={slots}",
        "--prefetch-multiplier=1",
        "--task-events",
        # No mingle or gossip: workers share nothing with each other (the database holds every
        # job's state), and both cost a reconnect after a broker failover about a second more.
        "--without-mingle",
        "--without-gossip",
        # Unique per worker process, so that several workers of a pool on one host are told
        # apart (Celery warns of duplicate node names, and Flower would merge them).
        f"--hostname={pool}-{os.getpid()}@%h",
        "--loglevel=INFO",
    ]
