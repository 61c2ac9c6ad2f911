"""`voxq dialect`: identify one text through the API, or evaluate on a labelled TSV file."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli.client import ApiError, Client
from cli.exit_codes import ExitCode
from cli.progress import follow_batch
from shared.config import get_settings
from shared.dialect.detector import detect
from shared.dialect.evaluate import evaluate, load_labelled_tsv
from shared.errors import BadInput


def _wait_for_job(client: Client, job: dict[str, Any], timeout_s: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while job["status"] not in ("succeeded", "failed"):
        if time.monotonic() > deadline:
            raise ApiError(f"job {job['id']} still {job['status']} after {timeout_s:.0f}s", ExitCode.FAILED)
        job = client.json("GET", f"/v1/jobs/{job['id']}", params={"wait": 20}, timeout=50)  # a long-poll
    return job


def identify(text: str, context: dict[str, str], console: Console) -> None:
    client = Client(get_settings())
    job = _wait_for_job(client, client.json("POST", "/v1/dialect", json={"text": text, "context": context}))
    if job["status"] == "failed":
        raise ApiError(f"job {job['id']} failed: {job['error']}", ExitCode.FAILED)
    answer = job["result"]
    console.print(
        f"[bold]{answer['label']}[/bold]  confidence {answer['confidence']:.2f}  (decided by {answer['decided_by']})"
    )
    console.print(answer["reason"])
    if answer["evidence"]:
        table = Table("marker", "variety", "weight")
        for e in answer["evidence"]:
            table.add_row(e["matched"], e["label"], f"{e['weight']:.1f}")
        console.print(table)


def evaluate_file(path: Path, via_api: bool, console: Console) -> None:
    try:
        pairs = load_labelled_tsv(path)
    except (BadInput, OSError) as exc:
        raise ApiError(str(exc), ExitCode.USAGE) from None
    predict = _api_predictions(pairs, console) if via_api else _detected_label
    columns = (TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("eval", total=len(pairs))
        report = evaluate(pairs, predict, progress=lambda n: progress.update(task, completed=n))
    console.print(report.format())


def _detected_label(text: str) -> str:
    return detect(text).label


def _api_predictions(pairs: list[tuple[str, str]], console: Console) -> Callable[[str], str]:
    """Send every text as one dialect batch, wait for it, and answer from its jobs' results."""
    client = Client(get_settings())
    items = [{"text": text} for text, _ in pairs]
    batch = follow_batch(client, client.json("POST", "/v1/dialect/batch", json={"items": items}), console)
    labels: dict[int, str] = {}
    offset = 0
    while offset < len(pairs):
        page = client.json("GET", f"/v1/batches/{batch['id']}/jobs", params={"offset": offset, "limit": 1000})
        for job in page:
            labels[job["line"]] = job["result"]["label"] if job["result"] else "failed"
        offset += len(page) or len(pairs)
    by_text = {text: labels.get(i + 1, "failed") for i, (text, _) in enumerate(pairs)}
    return lambda text: by_text[text]
