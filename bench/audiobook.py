"""An audiobook end to end on 2 TTS workers (embedded espeak-ng, which also take the media queue):
a 300-line, 10-chapter EPUB built here, from submission to every line spoken; its M4B and chapters
zip as a client gets them (202 with the book job, the build, then the stored file and a range of
it); then the M4B assembly alone and the captions alone, each in a
process of its own so that its peak memory is its own (ru_maxrss; target: under 200 MB whatever
the book's length). The same book four times over (1,200 lines, every line a cache hit) shows
that the assembly's memory does not grow with the book.

    .venv/bin/python -m bench.audiobook
"""

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import scratch_dir, unique_lines, wait_done
from deploy.epub_factory import make_epub
from deploy.stack import REPO, Stack, sqlite_url, start_stack

CHAPTERS = 10
LINES_PER_CHAPTER = 30  # the heading and 29 paragraphs


def book_chapters(repeat: int = 1) -> list[tuple[str, list[str]]]:
    texts = unique_lines(CHAPTERS * (LINES_PER_CHAPTER - 1))
    per = LINES_PER_CHAPTER - 1
    chapters = [(f"第{n + 1}章", texts[n * per : (n + 1) * per]) for n in range(CHAPTERS)]
    return [
        (f"{title}（{r + 1}）" if repeat > 1 else title, paragraphs)
        for r in range(repeat)
        for title, paragraphs in chapters
    ]


def measure_in_child(stack: Stack, what: str, batch_id: str, out: Path) -> tuple[float, float, float]:
    """(seconds, peak RSS MB of the Python process, peak RSS MB of its ffmpeg) of one assembly. Linux
    keeps a process's RSS high-water across fork and exec, so ffmpeg's figure is at least the
    Python process's at the moment it was started."""
    env = stack.env | {"PYTHONPATH": str(REPO)}
    child = subprocess.run(
        [sys.executable, "-m", "bench.audiobook", what, batch_id, str(out)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, own_kb, ffmpeg_kb = child.stdout.split()
    return float(seconds), int(own_kb) / 1024, int(ffmpeg_kb) / 1024


def idle_rss_mb() -> float:
    """Peak RSS of a process that imports what the assembly imports and does nothing else."""
    code = (
        "import resource, shared.books.timeline, shared.books.captions, shared.books.m4b, shared.db; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return int(out.stdout) / 1024


def assemble(what: str, batch_id: str, out: Path) -> None:
    """In the child: build the M4B as the media worker does (or the captions) straight from the database."""
    from shared.books.assemble import assemble as build
    from shared.books.captions import cues, render
    from shared.books.timeline import load_timeline
    from shared.config import get_settings
    from shared.db import session_scope
    from shared.models import Batch

    settings = get_settings()
    started = time.perf_counter()
    with session_scope() as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        if what == "m4b":  # what the media worker runs
            build(session, batch, "m4b", "aac", settings, out)
        else:
            timeline = load_timeline(session, batch.tenant_id, batch, settings, texts=True)
            items = cues(timeline, None, settings.max_chunk_chars, settings.pause_between_chunks_ms)
            out.write_text(render(items, "srt"), encoding="utf-8")
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ffmpeg = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"{seconds:.3f} {own} {ffmpeg}")


def submit_book(stack: Stack, chapters: list[tuple[str, list[str]]]) -> tuple[str, float, int]:
    with stack.client() as api:
        started = time.perf_counter()
        r = api.post("/v1/batches", files={"file": ("book.epub", make_epub(chapters))}, data={"voice": "cmn"})
        r.raise_for_status()
        batch_id = str(r.json()["id"])
        wait_done(api, batch_id, timeout_s=1800)
        return batch_id, time.perf_counter() - started, int(r.json()["lines"])


def served_from_storage(api: httpx.Client, batch_id: str, params: dict[str, str]) -> list[str]:
    """The book's file as a client gets it: the first request's 202, the media worker's build
    (the job long-polled), then the stored file whole (time to its first byte, and in all) and
    a range of it; each figure as a phrase."""
    path = f"/v1/batches/{batch_id}/audio"
    started = time.perf_counter()
    first = api.get(path, params=params)
    answered_s = time.perf_counter() - started
    assert first.status_code == 202, first.text
    job = first.json()
    while job["status"] in ("queued", "running"):
        job = api.get(first.headers["location"], params={"wait": 20}).json()
    built_s = time.perf_counter() - started
    assert job["status"] == "succeeded", job
    started = time.perf_counter()
    with api.stream("GET", path, params=params) as whole:
        chunks = whole.iter_bytes()
        size = len(next(chunks))
        first_byte_s = time.perf_counter() - started
        size += sum(len(chunk) for chunk in chunks)
    total_s = time.perf_counter() - started
    started = time.perf_counter()
    part = api.get(path, params=params, headers={"Range": f"bytes={size // 2}-{size // 2 + 65535}"})
    range_s = time.perf_counter() - started
    return [
        f"first request {first.status_code} in {answered_s:.3f} s",
        f"built by the media worker {built_s:.1f} s after it",
        f"stored file {whole.status_code}, first byte in {first_byte_s:.3f} s, {size / 2**20:.1f} MiB in {total_s:.2f} s",
        f"64 KiB range {part.status_code} in {range_s:.3f} s",
    ]


def main() -> None:
    folder = scratch_dir("voxq-bench-book-")
    stack = start_stack(folder, sqlite_url(folder), tts_workers=2)
    try:
        batch_id, spoken_s, lines = submit_book(stack, book_chapters())
        print(f"{lines}-line, {CHAPTERS}-chapter EPUB on 2 workers: all lines spoken {spoken_s:.1f} s after submission")
        with stack.client() as api:
            for params in ({"output": "m4b"}, {"output": "chapters", "format": "flac"}):
                print(f"  {params['output']}: " + "; ".join(served_from_storage(api, batch_id, params)))
        long_id, _, long_lines = submit_book(stack, book_chapters(repeat=4))
        for label, which in ((f"{lines} lines", batch_id), (f"{long_lines} lines", long_id)):
            seconds, own, ffmpeg = measure_in_child(stack, "m4b", which, folder / f"{which}.m4b")
            print(
                f"  M4B assembly alone, {label}: {seconds:.2f} s; peak RSS {own:.0f} MB (Python), "
                f"{ffmpeg:.0f} MB (ffmpeg); target < 200 MB"
            )
            seconds, own, _ = measure_in_child(stack, "captions", which, folder / f"{which}.srt")
            print(f"  captions alone, {label}: {seconds:.3f} s; peak RSS {own:.0f} MB")
        print(f"  (an idle Python process with the same imports: {idle_rss_mb():.0f} MB)")
    finally:
        stack.stop()


if __name__ == "__main__":
    if len(sys.argv) == 4:
        os.environ.setdefault("VOXQ_RECONCILE_IN_API", "0")
        assemble(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
    else:
        main()
