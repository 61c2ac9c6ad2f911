"""One attempt at a webhook: a signed POST, bounded in time and in what it reads.

- The whole attempt (resolving the host, connecting, sending, the answer) has a deadline,
  VOXQ_WEBHOOK_DEADLINE_S: httpx's timeouts are per phase, so a receiver that trickles a byte
  every few seconds would pass each of them for ever. It runs under `asyncio.timeout`, whose
  cancellation closes the connection.
- Of the answer only the status is needed, and of a failure's body the start, to show with the
  attempt: at most VOXQ_WEBHOOK_MAX_ANSWER_BYTES are read, undecoded (a compressed answer
  inflates), and the connection is closed on the rest, however large.
- The host is resolved and checked again now, and the request goes to the address checked
  (callbacks.target): a name that pointed at a public address at submission may point at a
  private one since (DNS rebinding).
- No redirects: a 3xx is a failure, as a receiver that moved must be told to us, and a redirect
  could lead to an address that was never checked.
"""

import asyncio
import ssl
import time
from typing import Any

import httpx

from shared.config import Settings
from shared.webhooks import callbacks
from shared.webhooks.delivery import Due, Outcome

ERROR_CHARS = 500  # of an error kept with an attempt
_ANSWER_CHARS = 200  # of a receiver's answer shown in it


def tls_context() -> ssl.SSLContext:
    """The certificates webhooks are checked against, loaded once per sender, not per attempt."""
    return httpx.create_ssl_context()


async def post(due: Due, settings: Settings, tls: ssl.SSLContext | None = None) -> Outcome:
    """Send `due` once, within the deadline; never raises (but for cancellation)."""
    started = time.monotonic()
    status: list[int] = []  # the answer's status, once its head has come
    try:
        async with asyncio.timeout(settings.webhook_deadline_s):
            code, error = await _send(due, settings, tls, status)
    except TimeoutError:
        code = status[0] if status else None
        error = (f"answered {code}, then " if code is not None else "") + (
            f"cut off at the deadline: no whole answer within {settings.webhook_deadline_s:g} s "
            "(VOXQ_WEBHOOK_DEADLINE_S)"
        )
    return Outcome(code, error, round((time.monotonic() - started) * 1000, 1))


async def _send(
    due: Due, settings: Settings, tls: ssl.SSLContext | None, status: list[int]
) -> tuple[int | None, str | None]:
    if due.secret is None:
        return None, "the tenant has no webhook secret"
    try:
        # In a thread: getaddrinfo blocks, and the deadline must be able to leave it behind.
        target = await asyncio.to_thread(callbacks.target, due.url, settings.webhook_allow_private)
    except callbacks.Refused as exc:
        return None, f"refused: {exc}"[:ERROR_CHARS]
    body = due.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "VoxQueue-Webhooks/1",
        "Accept-Encoding": "identity",
        callbacks.EVENT_ID_HEADER: due.id,
        callbacks.TIMESTAMP_HEADER: str(timestamp),
        callbacks.SIGNATURE_HEADER: callbacks.sign(due.secret, timestamp, body),
    }
    if target.host_header is not None:
        headers["Host"] = target.host_header
    extensions: dict[str, Any] = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    try:
        # A client per attempt: a connection pinned to an address must never serve another host.
        async with (
            httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False, verify=tls or True) as client,
            client.stream("POST", target.url, content=body, headers=headers, extensions=extensions) as response,
        ):
            status.append(response.status_code)
            if response.is_success:
                return response.status_code, None  # its body is never read
            head, cut = await _read_at_most(response, settings.webhook_max_answer_bytes)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
    text = head.decode("utf-8", "replace")
    shown = text[:_ANSWER_CHARS]
    more = " [truncated]" if cut or len(shown) < len(text) else ""
    return response.status_code, f"answered {response.status_code}: {shown}"[: ERROR_CHARS - len(more)] + more


async def _read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """The first `limit` bytes of the body as sent (never decompressed), and whether it had more.
    A read takes what the connection has, 64 KiB at most (httpcore's), so little more is held."""
    kept = bytearray()
    async for chunk in response.aiter_raw():
        room = limit - len(kept)
        if len(chunk) > room:
            kept += chunk[:room]
            return bytes(kept), True
        kept += chunk
    return bytes(kept), False
