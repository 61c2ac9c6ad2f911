"""the backlog in the database: jobs sent to the broker by the dispatcher, tenants' weights and turns;
audio stored uncompressed by Postgres

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 12:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_WAITING = "status = 'queued' AND dispatched_at IS NULL"
# Columns of compressed audio (FLAC, AAC): Postgres would try to compress them again (pglz) on
# every insert, spending CPU for nothing; EXTERNAL stores them out of line, uncompressed.
_AUDIO = (("snippets", "audio"), ("book_file_chunks", "data"), ("voices", "reference_audio"))


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_jobs_status_dispatched", ["status", "dispatched_at"], unique=False)
    op.create_index(
        "ix_jobs_backlog",
        "jobs",
        ["kind", "batch_id", "line"],
        unique=False,
        postgresql_where=sa.text(_WAITING),
        sqlite_where=sa.text(_WAITING),
    )
    # Jobs queued before the dispatcher had their messages sent at submission.
    jobs = sa.table("jobs", sa.column("status", sa.String), sa.column("created_at"), sa.column("dispatched_at"))
    op.execute(jobs.update().where(jobs.c.status == "queued").values(dispatched_at=jobs.c.created_at))
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("undispatched", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("dispatch_pass", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("lane", sa.String(length=10), nullable=False, server_default="bulk"))
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.alter_column("undispatched", server_default=None)
        batch_op.alter_column("dispatch_pass", server_default=None)
        batch_op.alter_column("lane", server_default=None)
    op.create_index(
        "ix_batches_waiting",
        "batches",
        ["kind", "lane"],
        unique=False,
        postgresql_where=sa.text("undispatched > 0"),
        sqlite_where=sa.text("undispatched > 0"),
    )
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weight", sa.Float(), nullable=False, server_default="1"))
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.alter_column("weight", server_default=None)
    op.create_table(
        "dispatch_shares",
        sa.Column("pool", sa.String(length=20), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("dispatch_pass", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pool", "tenant_id"),
    )
    op.create_table(
        "dispatch_clocks",
        sa.Column("pool", sa.String(length=20), nullable=False),
        sa.Column("vtime", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("pool"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _AUDIO:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _AUDIO:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTENDED")
    op.drop_table("dispatch_clocks")
    op.drop_table("dispatch_shares")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("weight")
    op.drop_index("ix_batches_waiting", table_name="batches")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("lane")
        batch_op.drop_column("dispatch_pass")
        batch_op.drop_column("undispatched")
    op.drop_index("ix_jobs_backlog", table_name="jobs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_dispatched")
        batch_op.drop_column("dispatched_at")
