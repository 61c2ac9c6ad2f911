"""API keys: created once and shown once, stored only as a sha256 hash."""

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.errors import Unauthorized
from shared.models import ApiKey, Tenant

KEY_PREFIX = "vq_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, tenant_name: str) -> str:
    """Create an API key for the tenant (created too if new) and return the key itself."""
    tenant = session.scalars(select(Tenant).where(Tenant.name == tenant_name)).first()
    if tenant is None:
        tenant = Tenant(name=tenant_name)
        session.add(tenant)
        session.flush()
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(tenant_id=tenant.id, key_hash=hash_key(key), prefix=key[:10]))
    return key


def tenant_for_key(session: Session, key: str | None) -> str:
    """The tenant id a key belongs to. Raises Unauthorized for a missing, unknown or revoked key."""
    if not key:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))).first()
    if row is None:
        raise Unauthorized("invalid API key")
    return row.tenant_id
