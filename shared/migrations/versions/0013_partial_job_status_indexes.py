"""jobs' lease and resend indexes hold only the jobs they are asked about, not a batch's waiting lines

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 04:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# models.LEASED and models.SENT_NOT_STARTED as of this revision.
_LEASED = "status = 'running'"
_SENT_NOT_STARTED = "status = 'queued' AND dispatched_at IS NOT NULL"


def upgrade() -> None:
    # Both were on (status, time) over every job: each of a batch's 10,000 waiting lines went into
    # both at acceptance, and a million waiting lines sat in them. The reconciler asks only for
    # running jobs whose lease ran out and for sent jobs that have not started: what is running or
    # in flight, a few hundred rows however much waits.
    op.drop_index("ix_jobs_status_lease", table_name="jobs")
    op.create_index(
        "ix_jobs_status_lease",
        "jobs",
        ["status", "lease_expires_at"],
        postgresql_where=sa.text(_LEASED),
        sqlite_where=sa.text(_LEASED),
    )
    op.drop_index("ix_jobs_status_dispatched", table_name="jobs")
    op.create_index(
        "ix_jobs_status_dispatched",
        "jobs",
        ["status", "dispatched_at"],
        postgresql_where=sa.text(_SENT_NOT_STARTED),
        sqlite_where=sa.text(_SENT_NOT_STARTED),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_status_dispatched", table_name="jobs")
    op.create_index("ix_jobs_status_dispatched", "jobs", ["status", "dispatched_at"])
    op.drop_index("ix_jobs_status_lease", table_name="jobs")
    op.create_index("ix_jobs_status_lease", "jobs", ["status", "lease_expires_at"])
