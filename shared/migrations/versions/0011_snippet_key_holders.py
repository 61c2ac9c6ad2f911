"""jobs.snippet_key indexed for the jobs that hold a snippet only, not a batch's waiting lines

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# models.SNIPPET_HOLDERS as of this revision.
_HOLDERS = "dispatched_at IS NOT NULL OR status = 'succeeded'"


def upgrade() -> None:
    # A snippet key is random, so each row of the index goes to a page of its own: with a million
    # lines waiting, a 10,000-line batch's keys touched thousands of pages of it (on SQLite, each
    # written to the WAL and checkpointed), and accepting a batch grew slower with the backlog. A
    # waiting line holds no audio (shared/audio/retention.py); it comes into the index when it is sent.
    # (postgresql_using is Postgres's alone: SQLite's is a B-tree, as before.)
    op.drop_index("ix_jobs_snippet_key", table_name="jobs")
    op.create_index(
        "ix_jobs_snippet_key",
        "jobs",
        ["snippet_key"],
        postgresql_using="hash",
        postgresql_where=sa.text(_HOLDERS),
        sqlite_where=sa.text(_HOLDERS),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_snippet_key", table_name="jobs")
    op.create_index("ix_jobs_snippet_key", "jobs", ["snippet_key"], postgresql_using="hash")
