"""One webhook attempt against real receivers on this machine: a trickling receiver is cut at the
deadline, a huge answer costs bounded memory and is kept truncated, and a name that resolves to a
private address after submission is refused when the request would connect (DNS rebinding)."""

import asyncio
import socket
import time
import tracemalloc
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.config import Settings, get_settings
from shared.errors import BadInput
from shared.models import utcnow
from shared.webhooks import attempt, callbacks
from shared.webhooks.delivery import Due, Outcome
from tests.webhook_receiver import verify, webhook_receiver

MiB = 1024 * 1024
SECRET = callbacks.new_secret()


def settings(**changed: Any) -> Settings:
    return get_settings().model_copy(update={"webhook_allow_private": True, **changed})


def due(url: str) -> Due:
    return Due("evt_test", "tenant_test", url, '{"type": "job.finished"}', 1, utcnow(), SECRET)


def post(url: str, given: Settings) -> Outcome:
    return asyncio.run(attempt.post(due(url), given))


def test_a_2xx_delivers_a_signed_request() -> None:
    with webhook_receiver() as receiver:
        outcome = post(f"{receiver.url}/hooks", settings())

    assert (outcome.status_code, outcome.error) == (200, None)
    [request] = receiver.received
    assert request.path == "/hooks" and verify(SECRET, request.headers, request.body)
    assert request.headers["x-voxqueue-event-id"] == "evt_test"


def test_a_trickling_receiver_is_cut_off_at_the_deadline() -> None:
    # A byte every 0.2 s: each phase's timeout (5 s) is never reached, only the deadline.
    with webhook_receiver(trickle_s=0.2) as receiver:
        started = time.monotonic()
        outcome = post(receiver.url, settings(webhook_deadline_s=1.0, webhook_timeout_s=5.0))
        took = time.monotonic() - started

    assert len(receiver.received) == 1
    assert outcome.status_code is None and outcome.error is not None
    assert "cut off at the deadline" in outcome.error and "VOXQ_WEBHOOK_DEADLINE_S" in outcome.error
    assert 1.0 <= took < 1.5 and 1000 <= outcome.duration_ms < 1500


def test_a_huge_error_answer_costs_bounded_memory_and_is_kept_truncated() -> None:
    tls = attempt.tls_context()
    with webhook_receiver([500], answer_bytes=1000 * MiB) as receiver:
        tracemalloc.start()
        try:
            outcome = asyncio.run(attempt.post(due(receiver.url), settings(webhook_max_answer_bytes=4096), tls))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        time.sleep(0.2)  # the receiver notices the closed connection
        sent = receiver.sent_bytes

    assert outcome.status_code == 500 and outcome.error is not None
    assert outcome.error.startswith("answered 500: xxxx") and outcome.error.endswith("[truncated]")
    assert len(outcome.error) <= attempt.ERROR_CHARS
    assert peak < 10 * MiB, f"{peak / MiB:.1f} MiB held to read a 1000 MiB answer"
    assert sent < 100 * MiB  # the connection was closed: the rest was never sent, let alone read


def test_a_2xx_answer_is_never_read() -> None:
    with webhook_receiver([200], answer_bytes=1000 * MiB) as receiver:
        started = time.monotonic()
        outcome = post(receiver.url, settings())

    assert (outcome.status_code, outcome.error) == (200, None)
    assert time.monotonic() - started < 2


def test_a_redirect_is_a_failure_and_not_followed() -> None:
    with webhook_receiver([302]) as receiver:
        outcome = post(receiver.url, settings())

    assert outcome.status_code == 302 and outcome.error == "answered 302: ok"
    assert len(receiver.received) == 1


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The machine's resolver, with the names this dict maps answered as it says."""
    answers: dict[str, str] = {}
    real: Callable[..., Any] = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        return real(answers.get(name, host), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize("rebound_to", ["127.0.0.1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"])
def test_a_name_that_resolves_to_a_private_address_after_submission_is_refused_when_connecting(
    resolver: dict[str, str], rebound_to: str
) -> None:
    with webhook_receiver() as receiver:
        url = f"http://hooks.example.test:{urlsplit(receiver.url).port}/hook"
        resolver["hooks.example.test"] = "93.184.215.14"  # public when the callback is submitted
        assert callbacks.check_url(url, allow_private=False) == url
        resolver["hooks.example.test"] = rebound_to  # then the name is pointed at this machine

        outcome = post(url, settings(webhook_allow_private=False))

    assert outcome.status_code is None and outcome.error is not None
    assert outcome.error.startswith("refused: 'hooks.example.test' resolves to a private")
    assert receiver.received == []
    with pytest.raises(BadInput):  # as a new submission would be
        callbacks.check_url(url, allow_private=False)


def test_a_name_pointed_at_this_machine_is_sent_to_when_private_addresses_are_allowed(
    resolver: dict[str, str],
) -> None:
    with webhook_receiver() as receiver:
        resolver["hooks.example.test"] = "127.0.0.1"
        outcome = post(f"http://hooks.example.test:{urlsplit(receiver.url).port}/hook", settings())

    assert (outcome.status_code, outcome.error) == (200, None)
    assert receiver.received[0].headers["host"].startswith("hooks.example.test:")
