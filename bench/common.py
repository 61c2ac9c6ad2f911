"""What the benchmarks share: the dev-set sentences, scratch folders, and submitting a chapter
through the API and waiting for it (stacks and fleets: deploy/)."""

import csv
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from deploy.fleet import Fleet
from deploy.stack import TRANSCRIPT

REPO = Path(__file__).resolve().parents[1]
DEV_SET = REPO.parent / "shared" / "data" / "dialect-dev.tsv"
sys.path.insert(0, str(REPO))


def dev_sentences() -> list[str]:
    with DEV_SET.open(encoding="utf-8", newline="") as f:
        return [row["text"].strip() for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def unique_lines(n: int) -> list[str]:
    """n distinct lines made of pairs of dev-set sentences (so no line is a cache hit)."""
    texts = dev_sentences()
    k = len(texts)
    return [f"{texts[i % k]}{texts[(i + 1 + (i // k) * 13) % k]}" for i in range(n)]


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def lines(n: int, offset: int) -> list[str]:
    """n distinct lines of about 20 characters (so no line is a cache hit)."""
    return [text[:20] for text in unique_lines(n + offset)[offset:]]


def wait_done(api: httpx.Client, batch_id: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = api.get(f"/v1/batches/{batch_id}").json()
        if batch["done"]:
            assert batch["counts"]["failed"] == 0, batch
            return
        time.sleep(0.1)
    raise RuntimeError(f"batch {batch_id} not done after {timeout_s:.0f}s")


def submit(api: httpx.Client, voice: str, texts: list[str]) -> str:
    r = api.post("/v1/batches", files={"file": ("lines.txt", "\n".join(texts).encode())}, data={"voice": voice})
    r.raise_for_status()
    return str(r.json()["id"])


@contextmanager
def tenant_with_voice(fleet: Fleet, clip: bytes) -> Iterator[tuple[httpx.Client, str]]:
    """The fleet's API (started here), a client of a new tenant, and that tenant's library
    voice cloned from `clip` (a Fish Speech worker speaks only cloned voices)."""
    key = fleet.new_key("bench")
    fleet.start_api()
    with httpx.Client(base_url=fleet.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as api:
        files = {"audio": ("reference.wav", clip, "audio/wav")}
        r = api.post("/v1/voices", files=files, data={"transcript": TRANSCRIPT})
        r.raise_for_status()
        yield api, str(r.json()["id"])


def streamed_speech_timing(api: httpx.Client, body: dict[str, Any], started: float) -> tuple[float, float]:
    """(seconds from `started` to the first audio sample, to the end) of a streamed WAV from
    `/v1/audio/speech`."""
    first, received = 0.0, 0
    with api.stream("POST", "/v1/audio/speech", json=body) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            received += len(chunk)
            if not first and received > 44:  # past the WAV header
                first = time.perf_counter() - started
    return first, time.perf_counter() - started
