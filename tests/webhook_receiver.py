"""A real HTTP server that receives webhooks, for tests: it records every request and answers
with the statuses it is given, in turn (the last one from then on). Two of its answers are the
ones a sender must survive: a trickle (`trickle_s`: the answer's head a byte at a time, never
ended) and a huge body (`answer_bytes`, streamed, never held).

In a thread of the test (`webhook_receiver`), or as a process of its own (`receiver_process`,
`python -m tests.webhook_receiver`), whose memory and CPU are then none of the test's.
"""

import argparse
import hashlib
import hmac
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_CHUNK = b"x" * 65536


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    statuses: list[int]
    trickle_s: float | None = None
    answer_bytes: int = 0
    received: list[Received] = field(default_factory=list)
    sent_bytes: int = 0  # of answer bodies, before the sender closed the connection
    stopped: threading.Event = field(default_factory=threading.Event)

    def answer(self) -> int:
        return self.statuses[min(len(self.received) - 1, len(self.statuses) - 1)]


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does, written apart from VoxQueue's own code: the HMAC-SHA256 of
    '<timestamp>.<body>' keyed with the secret, compared in constant time."""
    timestamp = headers["x-voxqueue-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-voxqueue-signature"], f"v1={expected}")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver.received.append(Received(self.path, headers, body))
            try:
                if receiver.trickle_s is not None:
                    self._trickle(receiver.trickle_s)
                elif receiver.answer_bytes:
                    self._huge(receiver.answer(), receiver.answer_bytes)
                else:
                    self.send_response(receiver.answer())
                    self.end_headers()
                    self.wfile.write(b"ok")
            except OSError:  # the sender closed the connection: what it should do
                self.close_connection = True

        def _trickle(self, every_s: float) -> None:
            """A head that never ends: a byte every `every_s`, each phase's timeout never reached."""
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Trickle: ")
            self.wfile.flush()
            while not receiver.stopped.wait(every_s):
                self.wfile.write(b"a")
                self.wfile.flush()

        def _huge(self, status: int, size: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            while receiver.sent_bytes < size and not receiver.stopped.is_set():
                chunk = _CHUNK[: size - receiver.sent_bytes]
                self.wfile.write(chunk)
                receiver.sent_bytes += len(chunk)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    return Handler


@contextmanager
def webhook_receiver(
    statuses: list[int] | None = None, *, trickle_s: float | None = None, answer_bytes: int = 0
) -> Iterator[Receiver]:
    receiver = Receiver("", statuses or [200], trickle_s, answer_bytes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stopped.set()
        server.shutdown()
        server.server_close()


@contextmanager
def receiver_process(
    status: int = 200, *, trickle_s: float | None = None, answer_bytes: int = 0
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The receiver as a process of its own: its URL and the process (stopped afterwards)."""
    argv = [sys.executable, "-m", "tests.webhook_receiver", "--status", str(status)]
    if trickle_s is not None:
        argv += ["--trickle-s", str(trickle_s)]
    argv += ["--answer-bytes", str(answer_bytes)]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), f"the receiver did not start: {url!r}"
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.webhook_receiver", description=__doc__)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--trickle-s", type=float, default=None)
    parser.add_argument("--answer-bytes", type=int, default=0)
    args = parser.parse_args()
    with webhook_receiver([args.status], trickle_s=args.trickle_s, answer_bytes=args.answer_bytes) as receiver:
        sys.stdout.write(receiver.url + "\n")  # the first line: where to send
        sys.stdout.flush()
        threading.Event().wait()  # until terminated


if __name__ == "__main__":
    main()
