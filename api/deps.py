"""Request dependencies: a database session, the caller's tenant, and owned objects."""

from collections.abc import Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from api.waiting import Finished
from shared.auth import tenant_for_key
from shared.db import session_scope
from shared.errors import NotFound, Unauthorized
from shared.models import Batch, Job, Snippet, Voice


def get_session() -> Iterator[Session]:
    """One session per request, committed when the handler returns."""
    with session_scope() as session:
        yield session


# scope="function": commit before the response is sent. By default FastAPI runs the code
# after `yield` once the response is out, so a client could get its 201 and then not find
# what it created in its next request.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_tenant(session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> str:
    """The tenant of the request's bearer key (401 without a valid one)."""
    if authorization is None:
        return tenant_for_key(session, None)
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("malformed Authorization header: use 'Authorization: Bearer <key>'")
    return tenant_for_key(session, key.strip())


TenantDep = Annotated[str, Depends(get_tenant)]


def get_tenant_briefly(authorization: Annotated[str | None, Header()] = None) -> str:
    """The caller's tenant, from a session closed at once: for a handler that waits (a
    long-poll), which must hold no database connection while it does."""
    with session_scope() as session:
        return get_tenant(session, authorization)


BriefTenantDep = Annotated[str, Depends(get_tenant_briefly)]


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
