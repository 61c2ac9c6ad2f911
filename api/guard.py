"""The request guard: every request with a body is authenticated before any of it is read, and
its body is held to its route's limit (api/limits.py) while it is read.

FastAPI reads and parses a route's body before it resolves the route's dependencies, the key
among them: without this, 600 MB of JSON sent with no key was read whole before its 401. Here a
POST, PUT or PATCH to /v1/ is answered 401 from its headers alone, and one whose Content-Length
is over its limit 413, both before the server has read more than its buffer holds. A body with
no Content-Length (chunked) is counted as it arrives and cut at the limit. The tenant found is
kept in the request's state, so the route does not look the key up again.
"""

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import TENANT_STATE, authenticate
from api.errors import database_unreachable, error_response
from api.limits import body_limit, shown
from shared.errors import TooLarge, VoxQueueError

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(HTTPException):
    """Raised while a body is read, once it passes its route's limit. An HTTPException, since
    FastAPI lets only those through its body parsing (any other error there becomes a 400);
    api/errors.py answers it as a too_large error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over this route's {shown(limit)} limit")


class RequestGuard:
    """ASGI middleware: authenticate every request with a body to /v1/, and bound its body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = body_limit(scope["method"], scope["path"])
        try:
            tenant = await run_in_threadpool(authenticate, headers.get("authorization"))
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise TooLarge(BodyTooLarge(limit).detail)
        except VoxQueueError as exc:
            await error_response(exc)(scope, receive, send)
            return
        except (OperationalError, InterfaceError) as exc:
            await database_unreachable(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})[TENANT_STATE] = tenant
        read = 0

        async def counted() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > limit:
                raise BodyTooLarge(limit)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # raised where no exception handler of the app saw it
            if started:
                raise
            await error_response(TooLarge(exc.detail))(scope, receive, send)
