"""tenant quotas: a tenant's own daily quotas of synthesis characters and LLM jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: every existing tenant keeps the deployment's quotas.
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("daily_synth_chars", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("daily_llm_jobs", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("daily_llm_jobs")
        batch_op.drop_column("daily_synth_chars")
