"""What a request body may weigh, by route, read from the settings once (as the request schemas'
limits are, api/schemas.py). The request guard (api/guard.py) holds each body to it while it is
read: a 413 at the limit, memory flat whatever is sent."""

from shared.config import get_settings

_settings = get_settings()
# A multipart form's boundaries, part headers and small fields around its one file.
_FORM_SLACK = 64 * 1024

# Every route's, unless named below: a single request's JSON.
BODY = _settings.max_body_bytes
# A script uploaded as a file, and a batch sent as JSON items (a script too).
SCRIPT = _settings.max_script_bytes + _FORM_SLACK
# A reference clip for a cloned voice.
VOICE_CLIP = _settings.voice_clip_max_bytes + _FORM_SLACK

_BY_ROUTE = {
    ("POST", "/v1/batches"): SCRIPT,
    ("POST", "/v1/dialect/batch"): SCRIPT,
    ("POST", "/v1/generate/batch"): SCRIPT,
    ("POST", "/v1/snippets/precompute"): SCRIPT,
    ("POST", "/v1/voices"): VOICE_CLIP,
}


def body_limit(method: str, path: str) -> int:
    """The most bytes a request's body may have."""
    return _BY_ROUTE.get((method, path.rstrip("/")), BODY)


def shown(limit: int) -> str:
    """A limit as a message says it."""
    return f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
