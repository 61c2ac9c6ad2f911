"""Daily quotas of a tenant: characters to synthesise, and LLM jobs, per UTC day.

What counts is work that goes to an engine: the text of a synthesis job that is not in the
snippet cache (as the engine is given it: cleaned, numbers written as words), and each
generation job, and each dialect job queued to the LLM pool. A cache hit, and a dialect job the
CPU detector answers at once, are free. The synthesis job that speaks a generated reply is not
counted: a worker creates it, the tenant did not submit it (its generation job was counted).

The quotas are the deployment's (VOXQ_DAILY_SYNTH_CHARS, VOXQ_DAILY_LLM_JOBS) unless the
tenant has its own (`voxq keys limits`, the `tenants` table). Counters live in Redis, one per
tenant, quota and UTC day, the date in the key: every API process counts on the same one, and
each day starts at zero. A submission takes its whole amount in one script
(shared/lua/reserve.lua) before anything of it is written, or is refused whole, and gives the
amount back if storing it then fails.
"""

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from redis import Redis, RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config import Settings, get_settings
from shared.errors import EngineUnavailable, NotFound, QuotaExceeded
from shared.jobs.contracts import SynthesisInput
from shared.jobs.state import NewJob
from shared.models import JobKind, Tenant
from shared.redis import broker, script

logger = logging.getLogger(__name__)

# A day's counter outlives its day by this much. The date in its name is what starts each day
# at zero; the expiry only clears old counters, late enough that a submission made just before
# midnight can still give back what it took.
KEEP_AFTER_DAY_S = 3600

# Gives back a reservation, unless its day's counter is gone (DECRBY would make a new one,
# negative and without expiry).


@dataclass(frozen=True)
class Quota:
    name: str  # in the counter's key and the settings' and tenant's field: daily_<name>
    title: str  # for messages
    unit: str
    counts: str  # what it counts, for `voxq keys limits`


SYNTH_CHARS = Quota("synth_chars", "daily synthesis quota", "characters", "characters to synthesise")
LLM_JOBS = Quota("llm_jobs", "daily LLM job quota", "jobs", "LLM jobs")
QUOTAS = (SYNTH_CHARS, LLM_JOBS)


@dataclass(frozen=True)
class Reservation:
    """An amount taken from a tenant's counter of one day."""

    key: str
    amount: int


def today() -> date:
    return datetime.now(UTC).date()


def counter_key(tenant_id: str, quota: Quota, day: date) -> str:
    return f"voxq:quota:{tenant_id}:{quota.name}:{day.isoformat()}"


def seconds_to_next_day(now: datetime | None = None) -> int:
    """Whole seconds until the next UTC midnight, when every daily quota starts again."""
    now = now or datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), UTC)
    return max(1, math.ceil((midnight - now).total_seconds()))


def quota_for(tenant: Tenant | None, quota: Quota, settings: Settings) -> int | None:
    """The tenant's quota: its own if set, else the deployment's; None when there is none (0)."""
    own: int | None = getattr(tenant, f"daily_{quota.name}") if tenant is not None else None
    limit: int | None = own if own is not None else getattr(settings, f"daily_{quota.name}")
    return limit or None


def cost(new_jobs: Sequence[NewJob]) -> tuple[Quota, int] | None:
    """What a submission (jobs of one kind) takes from which quota; None if it goes to no engine."""
    queued = [job for job in new_jobs if job.result is None]
    if not queued:
        return None
    if queued[0].kind == JobKind.book:  # assembling what was already spoken costs no engine
        return None
    if queued[0].kind == JobKind.synthesis:
        return SYNTH_CHARS, sum(len(job.input.text) for job in queued if isinstance(job.input, SynthesisInput))
    return LLM_JOBS, len(queued)


def counters() -> Redis:
    """The broker's Redis: every API process of a deployment shares it."""
    return broker()


def reserve(session: Session, tenant_id: str, new_jobs: Sequence[NewJob], what: str) -> Reservation | None:
    """Take what the submission costs from the tenant's quota of today, all or nothing;
    QuotaExceeded (nothing taken) if it does not fit. `what` names it in the message."""
    found = cost(new_jobs)
    if found is None:
        return None
    quota, amount = found
    limit = quota_for(session.get(Tenant, tenant_id), quota, get_settings())
    if limit is None:
        return None
    key = counter_key(tenant_id, quota, today())
    to_next_day = seconds_to_next_day()
    try:
        taken, used = script("reserve", counters())(keys=[key], args=[amount, limit, to_next_day + KEEP_AFTER_DAY_S])
    except RedisError as exc:
        raise EngineUnavailable(f"the quota counters (Redis) are unreachable: {exc}") from None
    if not taken:
        left = max(0, limit - int(used))
        raise QuotaExceeded(
            f"{quota.title}: {left:,} {quota.unit} left, {what} needs {amount:,} "
            f"(the quota is {limit:,} a day; it starts again at 00:00 UTC)",
            to_next_day,
        )
    return Reservation(key, amount)


def release(reservation: Reservation) -> None:
    """Give a reservation back (its submission was not stored, or not queued). Best effort: if
    Redis cannot be reached now, the tenant has that much less until midnight, never more."""
    try:
        script("release", counters())(keys=[reservation.key], args=[reservation.amount])
    except RedisError as exc:
        logger.error("could not give back %d to %s: %s", reservation.amount, reservation.key, exc)


@contextmanager
def reserved(session: Session, tenant_id: str, new_jobs: Sequence[NewJob], what: str) -> Iterator[None]:
    """The block stores a submission under its reservation, which is given back if the block
    raises: nothing was stored, or its jobs failed at once for want of a queue."""
    reservation = reserve(session, tenant_id, new_jobs, what)
    try:
        yield
    except BaseException:
        if reservation is not None:
            release(reservation)
        raise


def used_today(tenant_id: str, quota: Quota) -> int:
    """How much of the quota the tenant has used today (the UTC day)."""
    return int(counters().get(counter_key(tenant_id, quota, today())) or 0)


def find_tenant(session: Session, name: str) -> Tenant:
    tenant = session.scalars(select(Tenant).where(Tenant.name == name)).first()
    if tenant is None:
        raise NotFound(f"no tenant {name!r}; `voxq keys create --tenant {name}` creates it")
    return tenant
