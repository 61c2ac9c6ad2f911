"""Run Alembic migrations from code, so `voxq migrate` needs no alembic.ini on disk."""

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None) -> None:
    """Bring the database at `url` (default: the configured one) to the newest schema."""
    if url is None or url.startswith("sqlite"):
        from shared.config import get_settings

        get_settings().data_dir.expanduser().mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")
