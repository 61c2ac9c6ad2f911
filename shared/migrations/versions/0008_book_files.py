"""book files: a finished book's M4B or chapters zip, built once by a worker

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 12:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "book_files",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("output", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("media_type", sa.String(length=60), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("chapters", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "key"),
    )
    op.create_index("ix_book_files_tenant_id", "book_files", ["tenant_id"], unique=False)
    op.create_index("ix_book_files_expires_at", "book_files", ["expires_at"], unique=False)
    op.create_table(
        "book_file_chunks",
        sa.Column("file_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["book_files.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("file_id", "number"),
    )


def downgrade() -> None:
    op.drop_table("book_file_chunks")
    op.drop_index("ix_book_files_expires_at", table_name="book_files")
    op.drop_index("ix_book_files_tenant_id", table_name="book_files")
    op.drop_table("book_files")
