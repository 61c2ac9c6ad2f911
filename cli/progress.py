"""Following a batch with a progress bar until it is done."""

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.client import Client


def follow_batch(client: Client, batch: dict[str, Any], console: Console, poll_s: float = 0.5) -> dict[str, Any]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"{batch['kind']} jobs", total=sum(batch["counts"].values()))
        while True:
            counts = batch["counts"]
            progress.update(task, completed=counts["succeeded"] + counts["failed"])
            if batch["done"]:
                return batch
            time.sleep(poll_s)
            batch = client.json("GET", f"/v1/batches/{batch['id']}")
