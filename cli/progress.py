"""Following a batch with a progress bar until it is done, and a job until it has finished."""

import json
import time
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
IDLE_WARNING_S = 60.0  # no progress this long: say what may be wrong


def follow_batch(
    client: Client, batch: dict[str, Any], console: Console, idle_warning_s: float = IDLE_WARNING_S
) -> dict[str, Any]:
    """Long-poll the batch to its end with a progress bar; says so when no line has started or
    finished for `idle_warning_s` (no worker running, or all of them busy elsewhere)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"{batch['kind']} jobs", total=sum(batch["counts"].values()))
        last_change, last_counts, warned = time.monotonic(), batch["counts"], False
        while True:
            counts = batch["counts"]
            progress.update(task, completed=counts["succeeded"] + counts["failed"] + counts.get("cancelled", 0))
            if batch["done"]:
                return batch
            if counts != last_counts:
                last_change, last_counts, warned = time.monotonic(), counts, False
            elif not warned and time.monotonic() - last_change > idle_warning_s:
                progress.console.print(
                    f"[yellow]no line has started or finished for {idle_warning_s:.0f} s[/yellow]: is a "
                    f"worker running for this pool (`voxq worker tts`)? The batch waits; Ctrl-C leaves it queued."
                )
                warned = True
            wait = min(_WAIT_S, max(1, round(idle_warning_s)))
            batch = client.json("GET", f"/v1/batches/{batch['id']}", params={"wait": wait}, timeout=wait + 30)


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
