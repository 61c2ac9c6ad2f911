"""Webhooks: a batch or a single job may name a `callback_url`, which VoxQueue POSTs a signed
event to when it ends (done, failed or cancelled).

At submission the URL is checked (http or https; no loopback, link-local or private address
unless VOXQ_WEBHOOK_ALLOW_PRIVATE) and a `waiting` delivery row is written in the same
transaction as the batch or job, so no end can be missed, whatever process dies when. The
reconciler's sweep (shared/webhooks/delivery.py) fires and sends them.

Signing, as Stripe and Standard Webhooks do: each request carries
``X-VoxQueue-Timestamp: <unix seconds>`` and ``X-VoxQueue-Signature: v1=<hex>``, the hex
HMAC-SHA256, keyed with the tenant's secret (its UTF-8 bytes, ``whsec_...`` included), of
``<timestamp>.<body>``. A receiver recomputes it over the raw body, compares in constant time,
and refuses a timestamp more than a few minutes old (a replay).
"""

import hashlib
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel
from sqlalchemy import insert
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.errors import BadInput
from shared.models import DeliveryState, Tenant, WebhookDelivery, new_id, utcnow

SECRET_PREFIX = "whsec_"
BATCH_FINISHED = "batch.finished"
JOB_FINISHED = "job.finished"
TIMESTAMP_HEADER = "X-VoxQueue-Timestamp"
SIGNATURE_HEADER = "X-VoxQueue-Signature"
EVENT_ID_HEADER = "X-VoxQueue-Event-Id"
FinishedStatus = Literal["succeeded", "failed", "cancelled"]


class BatchFinished(BaseModel):
    """The event sent when a batch has no line left to run."""

    type: Literal["batch.finished"] = "batch.finished"
    event_id: str  # the delivery's id: the same on every retry, for the receiver to drop duplicates
    id: str  # the batch
    kind: str
    status: FinishedStatus
    counts: dict[str, int]
    lines: int
    created_at: datetime
    finished_at: datetime


class JobFinished(BaseModel):
    """The event sent when a single job (not a batch's line) has ended."""

    type: Literal["job.finished"] = "job.finished"
    event_id: str
    id: str  # the job
    kind: str
    status: FinishedStatus
    error: str | None = None
    created_at: datetime
    finished_at: datetime


# --- the tenant's secret ------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``v1=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


# --- callback URLs ------------------------------------------------------------------------


class Refused(Exception):
    """Raised when a callback URL's host resolves to an address webhooks may not reach."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is link-local anyway
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal: itself); Refused if none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host!r}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """Where a webhook request goes: the URL to connect to (pinned to a checked address, so
    that a second DNS answer cannot point it elsewhere), and the Host and TLS name to send."""

    url: str
    host_header: str | None = None
    sni_hostname: str | None = None


def target(url: str, allow_private: bool) -> Target:
    """Resolve the URL's host now and pin the request to a public address of it; Refused if
    any of its addresses is loopback, link-local or private (unless `allow_private`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if allow_private:
        return Target(url)
    addresses = resolve(host, port)
    private = [a for a in addresses if not _public(a)]
    if private:
        raise Refused(f"{host!r} resolves to a private, loopback or link-local address ({private[0]})")
    pinned = addresses[0]
    netloc = f"[{pinned}]" if ":" in pinned else pinned
    if parts.port is not None:
        netloc += f":{parts.port}"
    if parts.username is not None:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host:  # an IPv6 literal keeps its brackets in the Host header
        host_header = f"[{host}]" + ("" if parts.port is None else f":{parts.port}")
    sni = host if parts.scheme == "https" else None
    return Target(urlunsplit(parts._replace(netloc=netloc)), host_header, sni)


def check_url(url: str, allow_private: bool) -> str:
    """The callback URL as given if webhooks may be sent to it; BadInput (400) otherwise."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port that is no number or out of range)
    except ValueError as exc:
        raise BadInput(f"callback_url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise BadInput(f"callback_url must be an http or https URL, not {parts.scheme or 'one without a scheme'!r}")
    if not parts.hostname:
        raise BadInput("callback_url has no host")
    try:
        target(url, allow_private)
    except Refused as exc:
        hint = "" if allow_private else " (VOXQ_WEBHOOK_ALLOW_PRIVATE=1 allows private addresses)"
        raise BadInput(f"callback_url refused: {exc}{hint}") from None
    return url


def callback_for(session: Session, tenant_id: str, url: str | None) -> str | None:
    """A submission's callback URL, checked; None if it gave none. BadInput if the URL is
    refused or the tenant has no webhook secret to sign with yet."""
    if url is None:
        return None
    tenant = session.get_one(Tenant, tenant_id)
    if tenant.webhook_secret is None:
        raise BadInput(
            "this tenant has no webhook secret to sign callbacks with: make one first "
            "(POST /v1/webhook-secret, or voxq keys webhook-secret --tenant NAME)"
        )
    return check_url(url, get_settings().webhook_allow_private)


def expect(
    session: Session, tenant_id: str, url: str, batch_id: str | None = None, job_ids: Sequence[str] = ()
) -> None:
    """Write the `waiting` deliveries of a submission, in its transaction: one for the batch,
    or one per single job. Called after the jobs are inserted (the rows refer to them)."""
    now = utcnow()
    base = {"tenant_id": tenant_id, "url": url, "state": DeliveryState.waiting, "attempts": 0, "created_at": now}
    if batch_id is not None:
        rows = [base | {"id": new_id("evt"), "batch_id": batch_id, "event": BATCH_FINISHED}]
    else:
        rows = [base | {"id": new_id("evt"), "job_id": job_id, "event": JOB_FINISHED} for job_id in job_ids]
    if rows:
        session.execute(insert(WebhookDelivery), rows)
