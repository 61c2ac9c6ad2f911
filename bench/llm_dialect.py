"""LLM dialect identification through VoxQueue against the same requests sent straight to vLLM.

VoxQueue: one request to POST /v1/dialect/batch with N items -> Redis -> an LLM worker
(`voxq worker llm`: threads pool) -> vLLM -> Postgres, timed from submission until the batch
is done. Direct: the same N chat requests (same prompt, same constraint, same sampling) sent
to the same vLLM server by C threads, nothing else. Target: VoxQueue's rate ≥ 0.9 × direct.

By default it builds and serves the tiny random-weight Qwen3 (deploy/vllm-cpu/), which makes
the model nearly free and the queue's own cost as visible as it can be. `--llm-url` and
`--model` point it at a real server instead. `--compare` also runs other worker set-ups
(prefork, fewer threads, `--disable-prefetch`) on the same server, to show why the LLM pool
uses threads.

    .venv/bin/python -m bench.llm_dialect
    .venv/bin/python -m bench.llm_dialect --compare
    .venv/bin/python -m bench.llm_dialect --llm-url http://gpu-host:8000/v1 --model Qwen/Qwen3-1.7B
"""

import argparse
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import func, select

from bench.common import dev_sentences, scratch_dir
from deploy.stack import REPO, Stack, fresh_pg_database, start_stack
from deploy.vllm_server import running_vllm_server
from shared.db import make_engine
from shared.models import Batch, Job
from shared.text.sentences import clean
from workers.llm.dialect_prompt import dialect_request
from workers.llm.engines.vllm_openai import VLLMOpenAIEngine

REGIONS = ["成都", "广州", "上海", "哈尔滨", "郑州", "长沙", "西安", "北京"]


@dataclass(frozen=True)
class WorkerSetup:
    name: str
    group: int  # VOXQ_LLM_GROUP_SIZE: dialect jobs per queue message, one batch request each
    argv: list[str]  # `celery worker` arguments after -A workers.app
    processes: int = 1  # worker processes started with these arguments


def setups(concurrency: int, group: int) -> dict[str, WorkerSetup]:
    common = ["-Q", "llm", "--loglevel=INFO", "-E", "--prefetch-multiplier=1"]

    def threads(n: int) -> list[str]:
        return ["worker", *common, "-P", "threads", f"-c{n}"]

    def grouped(size: int) -> WorkerSetup:
        slots = max(1, concurrency // size)
        return WorkerSetup(f"groups of {size}, threads -c {slots}, prefetch 1", size, threads(slots))

    return {
        # What `voxq worker llm` runs (workers/pools.py): llm_concurrency / llm_group_size threads.
        "grouped": grouped(group),
        "groups-8": grouped(8),
        "groups-32": grouped(32),
        # One job per message and per request, one thread per request in flight.
        "single": WorkerSetup(f"one job per message, threads -c {concurrency}", 1, threads(concurrency)),
        # Two processes, as two `voxq worker llm` on one host: two GILs.
        "grouped-2x": WorkerSetup(
            f"2 workers × groups of {group}, threads -c {max(1, concurrency // group // 2)}",
            group,
            threads(max(1, concurrency // group // 2)),
            processes=2,
        ),
    }


def items(n: int) -> list[dict[str, object]]:
    texts = dev_sentences()
    # Distinct texts, so no two requests are the same prompt.
    return [
        {"text": f"{texts[i % len(texts)]}（{i}）", "context": {"region": REGIONS[i % len(REGIONS)]}, "id": str(i)}
        for i in range(n)
    ]


def direct(url: str, model: str, work: list[dict[str, object]], concurrency: int, group: int = 1) -> float:
    """Seconds for the same chats sent straight to vLLM by `concurrency // group` threads:
    one request per chat (group 1), or batch requests of `group` chats, as VoxQueue sends."""
    # The API cleans each text before it becomes a job; send the model the same text.
    requests = [dialect_request(clean(str(item["text"])), item["context"]) for item in work]  # type: ignore[arg-type]
    groups = [requests[i : i + group] for i in range(0, len(requests), group)]
    with VLLMOpenAIEngine(url, model, concurrency=concurrency) as engine:
        start = time.perf_counter()
        with ThreadPoolExecutor(max(1, concurrency // group)) as pool:
            results = [r for answers in pool.map(engine.chat_many, groups) for r in answers]
        elapsed = time.perf_counter() - start
    assert len(results) == len(work) and not any(isinstance(r, Exception) for r in results)
    return elapsed


def start_worker(stack: Stack, setup: WorkerSetup) -> None:
    for _ in range(setup.processes):
        _start_one_worker(stack, setup)


def _start_one_worker(stack: Stack, setup: WorkerSetup) -> Path:
    log_path = stack.data_dir / f"worker-{len(stack.processes)}.log"
    with log_path.open("w") as log:
        stack.processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "workers.app",
                    *setup.argv,
                    f"--hostname=llm{len(stack.processes)}@%h",
                ],
                env=stack.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return log_path


class DepthSampler(threading.Thread):
    """Samples the llm list length (what an autoscaler reads) and the unacked messages."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(daemon=True)
        self.client = redis.Redis.from_url(redis_url)
        self.stop = threading.Event()
        self.samples: list[tuple[int, int]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((self.client.llen("llm"), self.client.hlen("unacked")))
            time.sleep(0.05)


def voxqueue(
    url: str, model: str, work: list[dict[str, object]], warm_up: list[dict[str, object]], setup: WorkerSetup
) -> tuple[float, int, int]:
    """Seconds from submission to the batch's end; the largest list length and unacked count seen.

    A first, small batch (`warm_up`) goes through before the timed one, as the direct runs
    warm vLLM first: so neither side's first-request costs (connections, caches, the
    detector's word list) are counted against the other.
    """
    with fresh_pg_database("voxq_bench") as database:
        folder = scratch_dir("voxq-bench-llm-")
        stack = start_stack(
            folder,
            database,
            tts_workers=0,
            VOXQ_LLM_URL=url,
            VOXQ_LLM_MODEL=model,
            VOXQ_LLM_GROUP_SIZE=str(setup.group),
        )
        try:
            start_worker(stack, setup)
            sampler = DepthSampler(stack.env["VOXQ_REDIS_URL"])
            with stack.client() as api:
                _run_batch(api, warm_up)
                sampler.start()
                start = time.perf_counter()
                batch_id, info = _run_batch(api, work)
                elapsed = time.perf_counter() - start
                sampler.stop.set()
            assert info["counts"]["succeeded"] == len(work), info
            print(f"  {_timeline(database, batch_id)}", flush=True)
        finally:
            stack.stop()
    depth = max((s[0] for s in sampler.samples), default=0)
    unacked = max((s[1] for s in sampler.samples), default=0)
    return elapsed, depth, unacked


def _run_batch(api: httpx.Client, work: list[dict[str, object]]) -> tuple[str, dict[str, Any]]:
    """Submit a dialect batch and poll it until it is done; its id and its last state."""
    start = time.perf_counter()
    r = api.post("/v1/dialect/batch", json={"items": work})
    assert r.status_code == 202, r.text
    accepted = time.perf_counter() - start
    batch_id = r.json()["id"]
    while not (info := api.get(f"/v1/batches/{batch_id}").json())["done"]:
        time.sleep(0.05)
    print(f"  {len(work)} jobs accepted in {accepted:.2f} s, done in {time.perf_counter() - start:.2f} s", flush=True)
    return batch_id, info


def _timeline(database: str, batch_id: str) -> str:
    """When the jobs ran, from the database: the batch's creation to the first start, the
    span in which jobs ran, and the last finish to the end."""
    with make_engine(database).connect() as conn:
        created, first, last = conn.execute(
            select(Batch.created_at, func.min(Job.started_at), func.max(Job.finished_at))
            .join(Job, Job.batch_id == Batch.id)
            .where(Batch.id == batch_id)
            .group_by(Batch.created_at)
        ).one()
    return f"first job started {(first - created).total_seconds():.2f} s after the batch was created; jobs ran for {(last - first).total_seconds():.2f} s"


def run(url: str, model: str, n: int, concurrency: int, group: int, setup_names: list[str], rounds: int) -> None:
    """Each round times the direct runs right before VoxQueue's, so that the ratio compares
    runs a few seconds apart: on a shared machine the rates drift by a third within minutes."""
    work = items(n)
    # Warm-up texts of their own, so the timed ones are not already in vLLM's prefix cache.
    warm_up = [{**item, "text": f"预热{item['text']}"} for item in work[:concurrency]]
    direct(url, model, warm_up, concurrency)  # warm the server and its prefix cache
    for name in setup_names:
        setup = setups(concurrency, group)[name]
        to_single: list[float] = []
        to_batched: list[float] = []
        for number in range(1, rounds + 1):
            single_s = direct(url, model, work, concurrency)
            batched_s = direct(url, model, work, concurrency, group)
            vq_s, depth, unacked = voxqueue(url, model, work, warm_up, setup)
            to_single.append(single_s / vq_s)
            to_batched.append(batched_s / vq_s)
            print(
                f"round {number}: direct, one request per chat ({concurrency} in flight) {n / single_s:.1f} jobs/s; "
                f"direct, batch requests of {group} ({max(1, concurrency // group)} in flight) {n / batched_s:.1f} jobs/s; "
                f"VoxQueue [{setup.name}] {n / vq_s:.1f} jobs/s, max llm list length {depth} messages, "
                f"max unacked {unacked}",
                flush=True,
            )
        print(
            f"VoxQueue [{setup.name}], median of {rounds} rounds: ratio {statistics.median(to_single):.2f} to one "
            f"request per chat (target ≥ 0.9), {statistics.median(to_batched):.2f} to batch requests",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3, help="direct and VoxQueue runs per worker set-up")
    parser.add_argument("--concurrency", type=int, default=32, help="chats in flight, both sides")
    parser.add_argument("--group", type=int, default=16, help="dialect jobs per message and batch request")
    parser.add_argument("--llm-url", help="an existing vLLM server (.../v1); default: serve the tiny model")
    parser.add_argument("--model", help="the served model name (with --llm-url)")
    parser.add_argument("--compare", action="store_true", help="also run the other worker set-ups")
    parser.add_argument(
        "--setup", action="append", choices=list(setups(32, 16)), help="run these worker set-ups (repeatable)"
    )
    parser.add_argument(
        "--hidden-size", type=int, default=64, help="width of the served random model (64: the tests' tiny one)"
    )
    parser.add_argument("--layers", type=int, default=2, help="layers of the served random model")
    args = parser.parse_args()
    names = args.setup or (list(setups(args.concurrency, args.group)) if args.compare else ["grouped"])
    if args.llm_url:
        run(args.llm_url, args.model or "default", args.jobs, args.concurrency, args.group, names, args.rounds)
        return
    model_args = ["--hidden-size", str(args.hidden_size), "--layers", str(args.layers)]
    with running_vllm_server(scratch_dir("voxq-bench-vllm-"), model_args) as server:
        print(
            f"vLLM (random Qwen3, hidden {args.hidden_size}, {args.layers} layers) healthy after {server.startup_s:.1f} s",
            flush=True,
        )
        run(server.base_url, server.model, args.jobs, args.concurrency, args.group, names, args.rounds)


if __name__ == "__main__":
    main()
