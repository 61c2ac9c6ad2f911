"""snippets.audio may live in a folder (VOXQ_AUDIO_DIR): audio nullable, audio_file and size;
audio bytes stored by Postgres without trying to compress them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Columns holding FLAC, AAC or Opus: Postgres's default (EXTENDED) runs pglz over each value
# before storing it out of line, and compressed audio never shrinks: half the CPU of a
# snippet's INSERT here. EXTERNAL stores it out of line as it is.
_AUDIO_COLUMNS = [("snippets", "audio"), ("voices", "reference_audio"), ("book_file_chunks", "data")]


def upgrade() -> None:
    with op.batch_alter_table("snippets") as table:
        table.alter_column("audio", existing_type=sa.LargeBinary(), nullable=True)
        table.add_column(sa.Column("audio_file", sa.String(100), nullable=True))
        table.add_column(sa.Column("size", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for table_name, column in _AUDIO_COLUMNS:
            op.execute(f"ALTER TABLE {table_name} ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table_name, column in _AUDIO_COLUMNS:
            op.execute(f"ALTER TABLE {table_name} ALTER COLUMN {column} SET STORAGE EXTENDED")
    # Rows whose audio is in a folder cannot go back to a NOT NULL column without it.
    op.execute("DELETE FROM snippets WHERE audio IS NULL")
    with op.batch_alter_table("snippets") as table:
        table.drop_column("size")
        table.drop_column("audio_file")
        table.alter_column("audio", existing_type=sa.LargeBinary(), nullable=False)
