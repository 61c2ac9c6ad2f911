"""Huge request bodies against a real API process: a body without a valid key is answered 401
from its headers, before it is read; a body over its route's limit is a 413 naming the limit,
whether its Content-Length says so or it arrives chunked with none. Each is answered within 5 s
and leaves the API's memory within 100 MB of where it was."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from deploy.stack import Stack, sqlite_url, start_stack
from tests.memory import memory

MiB = 1024 * 1024
HUGE = 600 * MiB
ANSWER_WITHIN_S = 5.0
GROWTH_AT_MOST = 100 * MiB


@pytest.fixture(scope="module")
def api_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("hostile")
    stack = start_stack(folder, sqlite_url(folder), tts_workers=0)
    yield stack
    stack.stop()


@dataclass
class Answer:
    status: int
    body: dict  # type: ignore[type-arg]
    seconds: float
    sent: int  # body bytes the client got to send before the answer


def json_chunks(total: int, chunk: int = MiB) -> Iterator[bytes]:
    """`total` bytes of one JSON object whose text never ends (the server must not wait for it)."""
    yield b'{"text": "'
    sent = 10
    while sent < total:
        part = b"a" * min(chunk, total - sent)
        sent += len(part)
        yield part


def post_raw(stack: Stack, path: str, headers: dict[str, str], chunks: Iterator[bytes], chunked: bool) -> Answer:
    """POST as a hostile client would: the headers, then body bytes for as long as the server
    takes them, while the answer is read."""
    url = urlsplit(stack.api_url)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=30)
    head = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
    if chunked:
        head.append("Transfer-Encoding: chunked")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    started, sent = time.monotonic(), 0
    stop = threading.Event()

    def send_body() -> None:
        nonlocal sent
        try:
            for part in chunks:
                if stop.is_set():
                    return
                sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n" if chunked else part)
                sent += len(part)
        except OSError:
            return  # the server closed the connection: it read no more

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            piece = sock.recv(65536)
            if not piece:
                break
            received += piece
        head_bytes, _, rest = received.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(fields.get("content-length", "0"))
        while len(rest) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
        seconds = time.monotonic() - started
    finally:
        stop.set()
        sock.close()
        sender.join(timeout=10)
    return Answer(int(lines[0].split()[1]), json.loads(rest[:length] or b"{}"), seconds, sent)


def api_pid(stack: Stack) -> int:
    return stack.processes[0].pid  # the API is the stack's first process


def test_a_huge_body_without_a_key_is_refused_before_it_is_read(api_only: Stack) -> None:
    pid = api_pid(api_only)
    before = memory(pid)

    answer = post_raw(
        api_only,
        "/v1/dialect/batch",
        {"Content-Type": "application/json", "Content-Length": str(HUGE)},
        json_chunks(HUGE),
        chunked=False,
    )

    assert answer.status == 401 and answer.body["error"]["type"] == "unauthorized"
    assert answer.seconds < ANSWER_WITHIN_S
    assert memory(pid) - before < GROWTH_AT_MOST
    assert answer.sent < HUGE  # the server stopped taking it


def test_a_wrong_key_is_refused_as_early(api_only: Stack) -> None:
    answer = post_raw(
        api_only,
        "/v1/synthesize",
        {"Content-Type": "application/json", "Content-Length": str(HUGE), "Authorization": "Bearer not-a-key"},
        json_chunks(HUGE),
        chunked=False,
    )

    assert answer.status == 401 and answer.seconds < ANSWER_WITHIN_S


def test_a_chunked_body_over_the_routes_limit_is_cut_at_the_limit(api_only: Stack) -> None:
    pid = api_pid(api_only)
    before = memory(pid)

    answer = post_raw(
        api_only,
        "/v1/synthesize",
        {"Content-Type": "application/json", "Authorization": f"Bearer {api_only.key}"},
        json_chunks(HUGE),
        chunked=True,  # no Content-Length: counted as it arrives
    )

    assert answer.status == 413 and answer.body["error"]["type"] == "too_large"
    assert "4 MiB" in answer.body["error"]["message"]
    assert answer.seconds < ANSWER_WITHIN_S
    assert memory(pid) - before < GROWTH_AT_MOST


def test_an_upload_that_declares_more_than_the_script_limit_is_refused_unread(api_only: Stack) -> None:
    pid = api_pid(api_only)
    before = memory(pid)

    answer = post_raw(
        api_only,
        "/v1/batches",
        {
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(1024 * MiB),
            "Authorization": f"Bearer {api_only.key}",
        },
        iter([b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'] + [b"a" * MiB] * 1024),
        chunked=False,
    )

    assert answer.status == 413 and "MiB" in answer.body["error"]["message"]
    assert answer.seconds < ANSWER_WITHIN_S
    assert memory(pid) - before < GROWTH_AT_MOST


def test_bodies_within_their_limits_still_pass(api_only: Stack) -> None:
    with api_only.client() as api:
        r = api.post("/v1/dialect", json={"text": "侬好，今朝天气老好额。"})
        script = "\n".join(f"第{i}行。" for i in range(1, 2001)).encode()
        batch = api.post("/v1/batches", files={"file": ("s.txt", script)}, data={"voice": "cmn"})

    assert r.status_code == 200 and r.json()["result"]["label"] == "上海话", r.text  # answered at once (CPU)
    assert batch.status_code == 202 and batch.json()["lines"] == 2000, batch.text
