"""The CLI's view of the HTTP API: a thin httpx client that turns API errors into exit codes."""

from typing import Any

import httpx

from cli.exit_codes import ExitCode
from shared.config import Settings


class ApiError(Exception):
    """Raised when the API answers with an error or cannot be reached; `exit_code` says whose
    fault it is (USAGE for a request the API refused, FAILED otherwise)."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def api_key(settings: Settings) -> str | None:
    key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    if key:  # an empty VOXQ_API_KEY counts as unset
        return key
    if settings.local_key_file.exists():
        return settings.local_key_file.read_text().strip()
    return None


class Client:
    def __init__(self, settings: Settings, timeout: float = 60.0) -> None:
        key = api_key(settings)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=settings.api_url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(
                f"cannot reach the API at {self.http.base_url} ({exc}); is `voxq api` running?", ExitCode.FAILED
            ) from None
        return self.check(response)

    def check(self, response: httpx.Response) -> httpx.Response:
        """The response if it is no error; else ApiError with the API's message and exit code."""
        if response.is_error:
            response.read()  # a streamed response's body is not read yet
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:500]
            if response.status_code == 429:
                # Over a rate limit or a daily quota: the same command may pass later, so it is
                # no usage error; say when.
                wait = response.headers.get("Retry-After")
                later = f" (try again in {_duration(int(wait))})" if wait and wait.isdigit() else ""
                raise ApiError(f"429 over a limit: {message}{later}", ExitCode.FAILED)
            code = ExitCode.USAGE if response.status_code < 500 else ExitCode.FAILED
            raise ApiError(f"{response.status_code}: {message}", code)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()


def _duration(seconds: int) -> str:
    """`Retry-After` for a person: 45 s, 12 min, 3 h 5 min."""
    if seconds < 120:
        return f"{seconds} s"
    hours, minutes = divmod(-(-seconds // 60), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
