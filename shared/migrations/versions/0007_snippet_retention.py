"""snippets that expire after their batch ended

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 02:10:00
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# What snippets stored before retention existed are given: the default retention from the
# upgrade, so nothing goes at once and a phrase that should stay can be precomputed again.
_GRACE = timedelta(days=30)


def upgrade() -> None:
    with op.batch_alter_table("snippets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_snippets_expires_at", ["expires_at"], unique=False)
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_batches_finished_at", ["finished_at"], unique=False)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pinned", sa.Boolean(), nullable=True))
        batch_op.create_index("ix_jobs_snippet_key", ["snippet_key"], unique=False)

    snippets = sa.table("snippets", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(snippets.update().values(expires_at=datetime.now(UTC) + _GRACE))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_snippet_key")
        batch_op.drop_column("pinned")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index("ix_batches_finished_at")
        batch_op.drop_column("finished_at")
    with op.batch_alter_table("snippets", schema=None) as batch_op:
        batch_op.drop_index("ix_snippets_expires_at")
        batch_op.drop_column("expires_at")
