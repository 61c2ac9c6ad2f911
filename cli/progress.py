"""Following a batch with a progress bar until it is done, and a job until it has finished."""

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.client import ApiError, Client
from cli.exit_codes import ExitCode

# Each request long-polls: the API answers as soon as a line finishes (the workers' notices
# wake it), or after this long with the batch as it is.
_WAIT_S = 20
FINISHED = ("succeeded", "failed", "cancelled")


def follow_batch(client: Client, batch: dict[str, Any], console: Console) -> dict[str, Any]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"{batch['kind']} jobs", total=sum(batch["counts"].values()))
        while True:
            counts = batch["counts"]
            progress.update(task, completed=counts["succeeded"] + counts["failed"] + counts.get("cancelled", 0))
            if batch["done"]:
                return batch
            batch = client.json("GET", f"/v1/batches/{batch['id']}", params={"wait": _WAIT_S}, timeout=_WAIT_S + 30)


def follow_job(client: Client, job: dict[str, Any], console: Console, what: str) -> dict[str, Any]:
    """Long-poll a job until it has finished, with a spinner saying `what` it does."""
    with console.status(f"{what} (job {job['id']})"):
        while job["status"] not in FINISHED:
            job = client.json("GET", f"/v1/jobs/{job['id']}", params={"wait": _WAIT_S}, timeout=_WAIT_S + 30)
    return job


def download_audio(client: Client, batch_id: str, params: dict[str, str], out: Path, console: Console) -> int:
    """Write the batch's audio to `out`; returns its bytes. An M4B or chapters zip not yet built
    answers 202 with the book job building it: that job is followed, then asked for again."""
    path = f"/v1/batches/{batch_id}/audio"
    while True:
        with client.http.stream("GET", path, params=params, timeout=600) as response:
            if response.status_code != 202:
                client.check(response)
                written = 0
                with out.open("wb") as f:
                    for data in response.iter_bytes():
                        written += f.write(data)
                return written
            job = json.loads(response.read())
        job = follow_job(client, job, console, f"building the {params['output']}")
        if job["status"] != "succeeded":
            raise ApiError(f"the {params['output']} could not be built: {job.get('error')}", ExitCode.FAILED)
