"""jobs.snippet_key indexed by hash on Postgres

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 21:30:00
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A snippet key is a SHA-256 in hex: a B-tree of them takes a batch's 10,000 keys to
    # 10,000 random pages of an index that, with a million jobs, outgrows the cache; a hash
    # index keeps a 4-byte code per row and is read by equality alone, all the key is asked by.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_jobs_snippet_key", table_name="jobs")
    op.create_index("ix_jobs_snippet_key", "jobs", ["snippet_key"], postgresql_using="hash")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_jobs_snippet_key", table_name="jobs")
    op.create_index("ix_jobs_snippet_key", "jobs", ["snippet_key"])
