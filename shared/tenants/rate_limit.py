"""The rate limit of submissions: at most VOXQ_RATE_LIMIT_PER_MIN requests that create jobs or
batches, per API key and minute, counted in Redis so that it holds across API processes.

The algorithm is GCRA (the generic cell rate algorithm, shared/lua/gcra.lua): each key has one
number, the time its next request is due; a request moves it on by a minute / the limit, and is
refused while it is more than a minute ahead. That behaves as a sliding window (a fixed window
per clock minute would let twice the limit through across a minute's edge), yet stores one
value per key where a sliding log stores one entry per request, and it tells exactly when the
next request would pass, which is the Retry-After. One script reads and moves it, so two API
processes can never both take the last slot.
"""

import math

from redis import RedisError

from shared.errors import EngineUnavailable, RateLimited
from shared.redis import script

PERIOD_MS = 60_000


def rate_key(key_hash: str, what: str = "submissions") -> str:
    """The Redis key of an API key's rate state for `what` it counts: by the key's hash, as the
    database stores it (submissions keep the key they always had)."""
    return f"voxq:rate:{key_hash}" if what == "submissions" else f"voxq:rate:{what}:{key_hash}"


def take(key_hash: str, per_min: int, what: str = "submissions") -> None:
    """Count one of `what` (submissions, downloads) of the API key whose sha256 is `key_hash`;
    RateLimited (nothing counted) if the key has used up its `per_min` of them."""
    try:
        wait_ms = int(script("gcra")(keys=[rate_key(key_hash, what)], args=[per_min, PERIOD_MS]))
    except RedisError as exc:
        raise EngineUnavailable(f"the rate limiter (Redis) is unreachable: {exc}") from None
    if wait_ms:
        retry_after_s = max(1, math.ceil(wait_ms / 1000))
        raise RateLimited(
            f"rate limit: {per_min} {what} a minute per API key; try again in {retry_after_s} s",
            retry_after_s,
        )
