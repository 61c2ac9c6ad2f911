"""Reading Server-Sent Events (POST /v1/generate with `stream`) on the client's side."""

import json
from collections.abc import Iterable, Iterator
from typing import Any


def read_events(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) for each event of an SSE body given line by line; comments (a
    keep-alive) are skipped. Our events carry one JSON `data` line each."""
    name, data = "message", ""
    for line in lines:
        if not line:  # a blank line ends an event
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data += line[len("data:") :].strip()
