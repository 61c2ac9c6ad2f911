"""GET /v1/usage: the tenant's use today against its limits (the console shows it)."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import SessionDep, TenantDep
from shared.config import get_settings
from shared.models import Tenant
from shared.tenants import quota

router = APIRouter(prefix="/v1", tags=["tenants"])


class QuotaOut(BaseModel):
    name: str = Field(description="synth_chars or llm_jobs.")
    counts: str = Field(description="What it counts.")
    used_today: int = Field(description="Used since 00:00 UTC.")
    limit: int | None = Field(description="The daily limit; null: none.")


class UsageOut(BaseModel):
    tenant: str = Field(description="The tenant's name.")
    quotas: list[QuotaOut] = Field(description="Each daily quota: what it counts, today's use and the limit.")
    rate_limit_per_min: int | None = Field(description="Submissions per API key per minute; null: none.")
    weight: float = Field(description="The tenant's share of the workers against other tenants' (1: equal).")


@router.get("/usage", response_model=UsageOut)
def usage(session: SessionDep, tenant: TenantDep) -> UsageOut:
    """Today's use of each daily quota, with the tenant's limits."""
    settings = get_settings()
    row = session.get(Tenant, tenant)
    quotas = [
        QuotaOut(
            name=q.name,
            counts=q.counts,
            used_today=quota.used_today(tenant, q),
            limit=quota.quota_for(row, q, settings),
        )
        for q in quota.QUOTAS
    ]
    return UsageOut(
        tenant=row.name if row is not None else tenant,
        quotas=quotas,
        rate_limit_per_min=settings.rate_limit_per_min or None,
        weight=row.weight if row is not None else 1.0,
    )
