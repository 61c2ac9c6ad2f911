"""Alembic environment: the URL comes from VoxQueue's settings unless the caller set one."""

from alembic import context

from shared.config import get_settings
from shared.db import make_engine
from shared.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url
engine = make_engine(url)

with engine.connect() as connection:
    # render_as_batch: SQLite cannot ALTER most things in place; batch mode rebuilds tables.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
