"""Webhooks: the tenant's signing secret, and the deliveries of a batch's or a job's event."""

from fastapi import APIRouter
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from api.deps import SessionDep, TenantDep, get_owned
from api.schemas import DeliveryAttemptOut, DeliveryOut, WebhookSecretOut
from shared.models import Batch, Job, Tenant, WebhookAttempt, WebhookDelivery
from shared.webhooks import callbacks

router = APIRouter(prefix="/v1", tags=["webhooks"])


@router.post("/webhook-secret", response_model=WebhookSecretOut, status_code=201)
def create_webhook_secret(session: SessionDep, tenant: TenantDep) -> WebhookSecretOut:
    """Make the tenant's webhook signing secret, shown this once; a new one replaces the old at
    once (every later request, retries too, is signed with it)."""
    secret = callbacks.new_secret()
    session.get_one(Tenant, tenant).webhook_secret = secret
    return WebhookSecretOut(secret=secret, header=f"{callbacks.SIGNATURE_HEADER}: v1=<hex>")


@router.get("/batches/{batch_id}/deliveries", response_model=list[DeliveryOut])
def batch_deliveries(batch_id: str, session: SessionDep, tenant: TenantDep) -> list[DeliveryOut]:
    """The batch's webhook (if it gave a callback_url): its state and every attempt's outcome."""
    get_owned(session, Batch, batch_id, tenant)
    return _deliveries(session, WebhookDelivery.batch_id == batch_id)


@router.get("/jobs/{job_id}/deliveries", response_model=list[DeliveryOut])
def job_deliveries(job_id: str, session: SessionDep, tenant: TenantDep) -> list[DeliveryOut]:
    """The single job's webhook (if it gave a callback_url): its state and every attempt's outcome."""
    get_owned(session, Job, job_id, tenant)
    return _deliveries(session, WebhookDelivery.job_id == job_id)


def _deliveries(session: Session, which: ColumnElement[bool]) -> list[DeliveryOut]:
    deliveries = session.scalars(select(WebhookDelivery).where(which).order_by(WebhookDelivery.created_at)).all()
    attempts = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_([d.id for d in deliveries]))
        .order_by(WebhookAttempt.attempt)
    ).all()
    return [
        DeliveryOut(
            id=d.id,
            event=d.event,
            url=d.url,
            state=d.state,
            created_at=d.created_at,
            fired_at=d.fired_at,
            next_attempt_at=d.next_attempt_at,
            finished_at=d.finished_at,
            attempts=[DeliveryAttemptOut.model_validate(a) for a in attempts if a.delivery_id == d.id],
        )
        for d in deliveries
    ]
