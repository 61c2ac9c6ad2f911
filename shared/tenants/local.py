"""The embedded default's local tenant and key, so one machine works with no set-up."""

import os

from sqlalchemy import select

from shared.config import get_settings
from shared.db import session_scope
from shared.models import Tenant
from shared.tenants.auth import create_key

LOCAL_TENANT = "local"


def ensure_local_key() -> tuple[str | None, bool]:
    """Create the local tenant's key and save it (mode 600) unless it exists; (key, created)."""
    path = get_settings().local_key_file
    with session_scope() as session:
        exists = session.scalars(select(Tenant).where(Tenant.name == LOCAL_TENANT)).first() is not None
        if exists and path.exists():
            return path.read_text().strip(), False
        key = create_key(session, LOCAL_TENANT)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key, True
