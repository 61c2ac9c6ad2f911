"""Following a batch with a progress bar until it is done."""

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.client import Client

# Each request long-polls: the API answers as soon as a line finishes (the workers' notices
# wake it), or after this long with the batch as it is.
_WAIT_S = 20


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
