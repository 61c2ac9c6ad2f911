"""Webhooks: a batch or a single job may name a `callback_url`, which VoxQueue POSTs a signed
event to when it ends (done, failed or cancelled).

At submission the URL is checked (http or https; no loopback, link-local or private address
unless VOXQ_WEBHOOK_ALLOW_PRIVATE; an IPv6 address that carries an IPv4 one is judged by the
IPv4 one) and a `waiting` delivery row is written in the same transaction as the batch or job, so
no end can be missed, whatever process dies when. The reconciler fires them when their subject
ends (shared/webhooks/delivery.py) and a sender sends them (shared/webhooks/sender.py), which
resolves and checks the host again at every attempt and connects to the address it checked.

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


# IPv6 addresses whose last 32 bits are an IPv4 address that a host or a translator on the path
# reaches instead: ::ffff:a.b.c.d (IPv4-mapped, a dual-stack socket connects to a.b.c.d),
# ::ffff:0:a.b.c.d (SIIT, RFC 7915), ::a.b.c.d (IPv4-compatible, deprecated) and
# 64:ff9b::a.b.c.d (NAT64's well-known prefix, RFC 6052).
_EMBEDS_IPV4_LAST = tuple(
    ipaddress.IPv6Network(net) for net in ("::ffff:0:0/96", "::ffff:0:0:0/96", "::/96", "64:ff9b::/96")
)
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")  # 6to4 (RFC 3056): 2002:AABB:CCDD::/48 is a.b.c.d's
# NAT64 prefixes an operator chooses (RFC 8215): where the IPv4 address sits depends on the
# prefix length they picked, and such a prefix leads into their own network: never public.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries and leads to (mapped, SIIT, compatible, NAT64, 6to4)."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _EMBEDS_IPV4_LAST):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _public(address: str) -> bool:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is link-local anyway
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        # Judged by the IPv4 address it carries: Python calls ::127.0.0.1, 64:ff9b::10.0.0.1 and
        # 2002:7f00:1:: global, yet each leads to a loopback or private IPv4 address.
        ip = embedded_ipv4(ip) or ip
    return ip.is_global and not ip.is_multicast


def _named(address: str) -> str:
    """The address, and the IPv4 address it carries if it is an IPv6 one that carries one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    carried = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return f"{address}, which leads to {carried}" if carried is not None else address


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
        raise Refused(f"{host!r} resolves to a private, loopback or link-local address ({_named(private[0])})")
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
