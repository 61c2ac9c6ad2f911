"""Request dependencies: a database session, the caller's tenant, owned objects, and the rate limit."""

import secrets
from collections.abc import Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from api.waiting import Finished
from shared.config import get_settings
from shared.db import session_scope
from shared.errors import Forbidden, NotFound, Unauthorized
from shared.models import Batch, Job, Snippet, Tenant, Voice
from shared.tenants import rate_limit
from shared.tenants.auth import hash_key, tenant_for_key
from shared.tenants.local import LOCAL_TENANT


def get_session() -> Iterator[Session]:
    """One session per request, committed when the handler returns."""
    with session_scope() as session:
        yield session


# scope="function": commit before the response is sent. By default FastAPI runs the code
# after `yield` once the response is out, so a client could get its 201 and then not find
# what it created in its next request.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# Where the request guard (api/guard.py) keeps the tenant it found, for the route's dependencies.
TENANT_STATE = "tenant_id"


def get_tenant(request: Request, session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> str:
    """The tenant of the request's bearer key (401 without a valid one); looked up once, by the
    request guard if the request has a body."""
    known: str | None = getattr(request.state, TENANT_STATE, None)
    return known if known is not None else tenant_of(session, authorization)


def tenant_of(session: Session, authorization: str | None) -> str:
    """The tenant of a bearer `authorization` header; Unauthorized without a valid key."""
    if authorization is None:
        return tenant_for_key(session, None)
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("malformed Authorization header: use 'Authorization: Bearer <key>'")
    return tenant_for_key(session, key.strip())


TenantDep = Annotated[str, Depends(get_tenant)]


def get_tenant_briefly(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The caller's tenant, from a session closed at once: for a handler that waits (a
    long-poll), which must hold no database connection while it does."""
    known: str | None = getattr(request.state, TENANT_STATE, None)
    return known if known is not None else authenticate(authorization)


def authenticate(authorization: str | None) -> str:
    """The tenant of a bearer `authorization` header, looked up in a session of its own."""
    with session_scope() as session:
        return tenant_of(session, authorization)


BriefTenantDep = Annotated[str, Depends(get_tenant_briefly)]


def limit_rate(authorization: Annotated[str | None, Header()] = None) -> None:
    """429 when the request's API key has made VOXQ_RATE_LIMIT_PER_MIN submissions in the last
    minute. Counted by the key's hash, with no database read: a flood is turned away before it
    costs a query, and a waiting handler (/v1/audio/speech) holds no connection for it. A request
    without a bearer key passes on to its route's 401."""
    per_min = get_settings().rate_limit_per_min
    scheme, _, key = (authorization or "").partition(" ")
    if per_min and scheme.lower() == "bearer" and key.strip():
        rate_limit.take(hash_key(key.strip()), per_min)


# For the routes that create jobs or batches: `dependencies=[RATE_LIMIT]`.
RATE_LIMIT = Depends(limit_rate)


def limit_downloads(
    authorization: Annotated[str | None, Header()] = None,
    range_header: Annotated[str | None, Header(alias="Range", include_in_schema=False)] = None,
) -> None:
    """429 when the request's API key has downloaded a batch's audio VOXQ_DOWNLOAD_LIMIT_PER_MIN
    times in the last minute (each builds or streams a whole file). A range past the start is a
    player seeking in a file it is already downloading: not counted."""
    per_min = get_settings().download_limit_per_min
    scheme, _, key = (authorization or "").partition(" ")
    seeking = range_header is not None and not range_header.replace(" ", "").startswith("bytes=0-")
    if per_min and not seeking and scheme.lower() == "bearer" and key.strip():
        rate_limit.take(hash_key(key.strip()), per_min, "downloads")


DOWNLOAD_LIMIT = Depends(limit_downloads)


def require_metrics_reader(session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Who may read /metrics, which shows every tenant's figures: with VOXQ_METRICS_TOKEN set,
    only its bearer (Prometheus, which holds no tenant's key); without it, a key of the local
    tenant (the operator's, made by `voxq migrate`). 401 without a valid key, 403 for another
    tenant's."""
    secret = get_settings().metrics_token
    token = secret.get_secret_value() if secret is not None else ""
    if not token:  # an empty VOXQ_METRICS_TOKEN counts as unset: "Bearer " alone must not pass
        tenant = session.get(Tenant, tenant_of(session, authorization))
        if tenant is None or tenant.name != LOCAL_TENANT:
            raise Forbidden(
                "/metrics shows every tenant's figures: read it with the local tenant's key, or set VOXQ_METRICS_TOKEN"
            )
        return
    scheme, _, given = (authorization or "").partition(" ")
    # compare_digest: the time taken says nothing about how much of the token was right.
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("missing or wrong metrics token: send 'Authorization: Bearer <VOXQ_METRICS_TOKEN>'")


def get_finished(request: Request) -> Finished:
    """The process's waiter for finished jobs (api/waiting.py)."""
    finished: Finished = request.app.state.finished
    return finished


FinishedDep = Annotated[Finished, Depends(get_finished)]

# The tables whose rows belong to a tenant.
M = TypeVar("M", Job, Batch, Voice, Snippet)
# What an id names, for "no batch 'x'": the owned tables' rows in the singular.
_NOUNS = {"jobs": "job", "batches": "batch", "voices": "voice", "snippets": "snippet"}


def get_owned(session: Session, model: type[M], object_id: str, tenant_id: str) -> M:
    """The object if it exists and belongs to the tenant; 404 otherwise (never 403, so a key
    cannot learn that another tenant's id exists)."""
    obj = session.get(model, object_id)
    if obj is None or obj.tenant_id != tenant_id:
        raise NotFound(f"no {_NOUNS.get(model.__tablename__, model.__tablename__)} {object_id!r}")
    return obj
