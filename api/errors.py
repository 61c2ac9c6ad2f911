"""The one place where VoxQueue's errors become HTTP responses: JSON {"error": {type, message}}."""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import (
    AtCapacity,
    AudioExpired,
    BadInput,
    BadLine,
    EngineError,
    EngineUnavailable,
    Forbidden,
    NotFound,
    NotReady,
    OverLimit,
    QuotaExceeded,
    RangeNotSatisfiable,
    RateLimited,
    TooLarge,
    Unauthorized,
    VoxQueueError,
)

logger = logging.getLogger(__name__)

# Most specific first: TooLarge is a BadInput.
_STATUS: list[tuple[type[VoxQueueError], int, str]] = [
    (TooLarge, 413, "too_large"),
    (RangeNotSatisfiable, 416, "range_not_satisfiable"),
    (BadInput, 400, "bad_input"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (NotReady, 409, "not_ready"),
    (AtCapacity, 409, "at_capacity"),
    (AudioExpired, 410, "audio_expired"),
    (RateLimited, 429, "rate_limited"),
    (QuotaExceeded, 429, "quota_exceeded"),
    (EngineUnavailable, 503, "engine_unavailable"),
    (EngineError, 502, "engine_error"),
]


# What a 503 asks a client to wait before trying again: about a reconnect of the database or
# Redis, far below any outage worth alarming about.
RETRY_AFTER_S = 5

# pydantic's error types for a string or a list over its max_length.
_TOO_LONG = frozenset({"string_too_long", "too_long"})


def error_body(kind: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"type": kind, "message": message, **extra}}


def error_response(exc: VoxQueueError) -> JSONResponse:
    """The HTTP answer to one of VoxQueue's errors (for the exception handler, and for the
    request guard, which answers before the app is called)."""
    for cls, status, kind in _STATUS:
        if isinstance(exc, cls):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            if isinstance(exc, EngineUnavailable):
                headers = {"Retry-After": str(exc.retry_after_s or RETRY_AFTER_S)}
            if isinstance(exc, OverLimit):
                headers = {"Retry-After": str(exc.retry_after_s)}
            if isinstance(exc, RangeNotSatisfiable):
                headers = {"Content-Range": f"bytes */{exc.size}"}
            extra = {"line": exc.line} if isinstance(exc, BadLine) else {}
            return JSONResponse(error_body(kind, str(exc), **extra), status_code=status, headers=headers)
    logger.error("unmapped error: %r", exc)
    return JSONResponse(error_body("internal", str(exc)), status_code=500)


def database_unreachable(exc: Exception) -> JSONResponse:
    # A restarting or unreachable database: the client should come back, not give up.
    logger.warning("database unreachable: %s", exc)
    body = error_body("unavailable", "the database is unreachable; try again shortly")
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


def install(app: FastAPI) -> None:
    @app.exception_handler(VoxQueueError)
    async def _voxqueue_error(_request: Request, exc: VoxQueueError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unreachable(_request: Request, exc: Exception) -> JSONResponse:
        return database_unreachable(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        # The same condition has the same status however it is found, by the schema here or
        # by the checks behind it: over a limit is 413, an empty text 400 (as one holding
        # only invisible characters), anything else about the body's shape 422.
        if all(err.get("type") in _TOO_LONG for err in errors):
            return JSONResponse(error_body("too_large", "; ".join(map(_too_long, errors))), status_code=413)
        if all(err.get("type") == "string_too_short" and err["ctx"]["min_length"] == 1 for err in errors):
            return JSONResponse(
                error_body("bad_input", "; ".join(f"{_where(e)} is empty" for e in errors)), status_code=400
            )
        problems = [f"{_where(err)}: {err['msg']}" for err in errors]
        return JSONResponse(error_body("bad_input", "; ".join(problems), details=jsonable(errors)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:  # a body over its route's limit, met while it was read (api/guard.py)
            return error_response(TooLarge(str(exc.detail)))
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's answer to a body it could not parse at all ("There was an error parsing
            # the body"): the cause is what names the problem (not UTF-8, nested too deeply).
            return error_response(BadInput(f"the body cannot be read: {exc.__cause__}"))
        return JSONResponse(error_body("http", str(exc.detail)), status_code=exc.status_code)


def _where(err: Any) -> str:
    return ".".join(str(p) for p in err["loc"] if p != "body") or "body"


def _too_long(err: Any) -> str:
    unit = "characters" if err["type"] == "string_too_long" else "items"
    return f"{_where(err)} has {len(err['input'])} {unit}; the limit is {err['ctx']['max_length']}"


def jsonable(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
