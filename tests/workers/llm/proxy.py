"""An HTTP proxy in front of the real vLLM server that answers some requests itself.

It stands for the real server in another state (an older vLLM without a route, an
overloaded one): every request its rule does not answer goes to vLLM unchanged.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable
from typing import Any

import httpx

# (path, JSON body) -> (status, JSON body) to answer with, or None to forward.
Rule = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]] | None]

OVERLOADED = (503, {"error": {"message": "engine overloaded", "code": 503}})


def overloaded_when(text: str) -> Rule:
    """503 for every request that mentions `text`, as an overloaded server answers."""
    return lambda path, body: OVERLOADED if text in json.dumps(body, ensure_ascii=False) else None


def without_batch_route(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """404 for /chat/completions/batch with the web framework's body, as a vLLM older than
    that route answers."""
    return (404, {"detail": "Not Found"}) if path.endswith("/batch") else None


class VLLMProxy:
    def __init__(self, upstream: str, rule: Rule) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                body = json.loads(raw)
                proxy.requests.append((self.path, body))
                answer = rule(self.path, body)
                if answer is None:
                    forwarded = httpx.post(
                        upstream + self.path.removeprefix("/v1"),
                        content=raw,
                        headers={"content-type": "application/json"},
                        timeout=60,
                    )
                    status, payload = forwarded.status_code, forwarded.content
                else:
                    status, payload = answer[0], json.dumps(answer[1]).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> VLLMProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]
