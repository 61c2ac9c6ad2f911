"""Database size before and after retention: a 10,000-line batch spoken by 2 TTS workers
(embedded espeak-ng), its size measured, then the clock moved past its retention (the batch
is made to have ended 31 days ago, its snippets' time to have come) and `voxq gc` run, then
`voxq gc --vacuum`.

SQLite: the file and its free pages. A deleted row's pages go on SQLite's free list, reused by
new rows; the file shrinks only with VACUUM (`voxq gc --vacuum`), which the periodic sweep never
runs (it rewrites the file and holds writers back). Postgres: pg_total_relation_size of the
snippets table (with TOAST and indexes); a plain VACUUM makes the space reusable.

    .venv/bin/python -m bench.retention                      # SQLite, 10,000 lines
    .venv/bin/python -m bench.retention --database postgres  # Postgres
"""

import argparse
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from bench.common import scratch_dir, submit, unique_lines, wait_done
from deploy.stack import REPO, fresh_pg_database, sqlite_url, start_stack
from shared.db import make_engine
from shared.models import Batch, Job, Snippet, utcnow

MiB = 2**20


def sizes(url: str, folder: Path) -> str:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            rows, audio = s.execute(select(func.count(), func.coalesce(func.sum(func.length(Snippet.audio)), 0))).one()
            jobs = s.scalar(select(func.count()).select_from(Job))
            if url.startswith("sqlite"):
                s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
                free = (
                    s.execute(text("PRAGMA freelist_count")).scalar_one()
                    * s.execute(text("PRAGMA page_size")).scalar_one()
                )
                files = sum(p.stat().st_size for p in folder.glob("voxqueue.db*"))
                where = f"SQLite file {files / MiB:,.1f} MiB (of it free pages {free / MiB:,.1f} MiB)"
            else:
                table = s.execute(text("SELECT pg_total_relation_size('snippets')")).scalar_one()
                database = s.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
                where = f"snippets table {table / MiB:,.1f} MiB, database {database / MiB:,.1f} MiB"
    finally:
        engine.dispose()
    return f"{where}; {rows:,} snippets holding {audio / MiB:,.1f} MiB of FLAC, {jobs:,} job rows"


def move_clock(url: str, batch_id: str) -> None:
    """As if the batch ended 31 days ago and its snippets' time came."""
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            s.execute(update(Batch).where(Batch.id == batch_id).values(finished_at=utcnow() - timedelta(days=31)))
            keys = select(Job.snippet_key).where(Job.batch_id == batch_id)
            s.execute(update(Snippet).where(Snippet.key.in_(keys)).values(expires_at=utcnow() - timedelta(seconds=1)))
            s.commit()
    finally:
        engine.dispose()


def gc(env: dict[str, str], *args: str) -> tuple[str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli", "gc", *args], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    return " ".join(done.stdout.split()), time.perf_counter() - started


def run(url: str, folder: Path, lines: int) -> None:
    stack = start_stack(folder, url, tts_workers=2)
    try:
        with stack.client() as api:
            started = time.perf_counter()
            batch_id = submit(api, "cmn", unique_lines(lines))
            wait_done(api, batch_id, timeout_s=3600)
            print(f"{lines:,} lines spoken in {time.perf_counter() - started:.1f} s")
    finally:
        stack.stop()  # the API's reconciler stops too: gc below is the only sweep
    env = stack.env | {"VOXQ_RECONCILE_IN_API": "0"}
    gc(env)  # sees the batch end (batches.finished_at); frees nothing yet
    print(f"after the batch:         {sizes(url, folder)}")
    move_clock(url, batch_id)
    said, _ = gc(env, "--dry-run")
    print(f"voxq gc --dry-run:       {said}")
    said, took = gc(env)
    print(f"voxq gc ({took:.1f} s):       {said}")
    print(f"after the sweep:         {sizes(url, folder)}")
    said, took = gc(env, "--vacuum")
    print(f"voxq gc --vacuum ({took:.1f} s): {said}")
    print(f"after VACUUM:            {sizes(url, folder)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    folder = scratch_dir("voxq-bench-retention-")
    if args.database == "sqlite":
        run(sqlite_url(folder), folder, args.lines)
        return
    with fresh_pg_database("voxq_bench_retention") as url:
        run(url, folder, args.lines)


if __name__ == "__main__":
    main()
