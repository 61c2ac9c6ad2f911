"""VoxQueue's exceptions: one root, and the few families that callers act on.

The API maps each family to one HTTP status in ``api/errors.py``; the worker runner
(``workers/runner.py``) retries a job on RetryableEngineError and fails it on any other.
"""


class VoxQueueError(Exception):
    """Root of every error VoxQueue raises on purpose."""


class BadInput(VoxQueueError):
    """Raised when a request or uploaded file is invalid; nothing is stored (HTTP 400)."""


class BadLine(BadInput):
    """Raised when one line of an uploaded script cannot become a job (nothing visible in it, not
    valid JSON, the wrong number of CSV fields...); `line`, its 1-based number, is in the HTTP
    error too, so a client can point at it."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line

    def __reduce__(self) -> tuple[type, tuple[str, int]]:  # raised in another process, pickled back
        return type(self), (str(self), self.line)


class TooLarge(BadInput):
    """Raised when an input is over a configured size limit (HTTP 413)."""


class RangeNotSatisfiable(BadInput):
    """Raised when a range request starts past the end of a stored file (HTTP 416)."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size

    def __reduce__(self) -> tuple[type, tuple[str, int]]:  # raised in another process, pickled back
        return type(self), (str(self), self.size)


class NotFound(VoxQueueError):
    """Raised when an object does not exist or belongs to another tenant (HTTP 404)."""


class Unauthorized(VoxQueueError):
    """Raised when the API key is missing or wrong (HTTP 401)."""


class Forbidden(VoxQueueError):
    """Raised when a valid API key asks for what its tenant may not see (HTTP 403)."""


class AtCapacity(VoxQueueError):
    """Raised when a tenant already holds as many of something as it may (library voices): it
    must delete one first (HTTP 409)."""


class NotReady(VoxQueueError):
    """Raised when a result is asked for before its job or batch has finished (HTTP 409)."""


class AudioExpired(VoxQueueError):
    """Raised when a job's or batch's audio was made but is no longer stored: its retention
    (VOXQ_SNIPPET_RETENTION_DAYS after its batch or job ended) ran out (HTTP 410)."""


class EngineError(VoxQueueError):
    """Root of failures inside a model engine or its server."""


class RetryableEngineError(EngineError):
    """Raised when an engine failed in a way that may pass: connection refused, timeout, 5xx, 429."""


class PermanentEngineError(EngineError):
    """Raised when an engine rejected the work itself (a 4xx, unusable output); retrying cannot help."""


class EngineUnavailable(VoxQueueError):
    """Raised when what a request needs is not there now (HTTP 503): an engine this deployment
    does not configure, the queue (Redis) unreachable, or no worker finishing a job in time.
    `retry_after_s`, when known, is how long a client should wait before asking again."""

    def __init__(self, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[type, tuple[str, int | None]]:  # raised in another process, pickled back
        return type(self), (str(self), self.retry_after_s)


class OverLimit(VoxQueueError):
    """Root of refusals for being over a limit between tenants (HTTP 429); nothing of the refused
    request is stored. `retry_after_s` says when the same request may pass."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[type, tuple[str, int]]:  # raised in another process, pickled back
        return type(self), (str(self), self.retry_after_s)


class RateLimited(OverLimit):
    """Raised when an API key submits faster than VOXQ_RATE_LIMIT_PER_MIN allows."""


class QuotaExceeded(OverLimit):
    """Raised when a submission would take its tenant over a daily quota (synthesis characters or
    LLM jobs); the whole submission is refused, and may pass after the next UTC midnight."""
