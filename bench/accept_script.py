"""How long the API takes to accept a 10,000-line script (parse, one bulk insert, bulk enqueue).

Target: under 1 s. Runs a real API process on SQLite and on Postgres; no worker drains the
queue, so only acceptance is timed, and the bulk lane's backlog grows by 10,000 lines a run:
batches take turns (fair share), so each run also rebuilds the lane's list with the runs
before it (run 1: an empty lane; run 5: 40,000 lines waiting).
"""

import statistics
import time

from bench.common import scratch_dir, unique_lines
from deploy.stack import fresh_pg_database, sqlite_url, start_stack

LINES = 10_000
RUNS = 5


def measure(database: str, database_url_for) -> list[float]:  # type: ignore[no-untyped-def]
    folder = scratch_dir(f"voxq-bench-accept-{database}-")
    stack = start_stack(folder, database_url_for(folder), tts_workers=0)
    script = "\n".join(unique_lines(LINES)).encode()
    times = []
    try:
        with stack.client() as api:
            for run in range(RUNS):
                start = time.perf_counter()
                r = api.post("/v1/batches", files={"file": (f"run{run}.txt", script)}, data={"voice": "cmn"})
                times.append(time.perf_counter() - start)
                r.raise_for_status()
                assert r.json()["lines"] == LINES
    finally:
        stack.stop()
    return times


def main() -> None:
    with fresh_pg_database("voxq_bench") as pg_url:
        for database, url_for in [("sqlite", sqlite_url), ("postgres", lambda _folder: pg_url)]:
            times = measure(database, url_for)
            print(
                f"accept {LINES:,}-line script, {database:8s}: median {statistics.median(times):.3f} s, "
                f"best {min(times):.3f} s, worst {max(times):.3f} s over {RUNS} runs (target < 1 s); by run, "
                f"with 0, 10k, ... lines waiting: {', '.join(f'{t:.2f}' for t in times)}"
            )


if __name__ == "__main__":
    main()
