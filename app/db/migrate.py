"""Run the Alembic migrations from code (the CLI, tests)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from app.db.engine import ensure_sqlite_dir

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str | None = None) -> Config:
    """Alembic's config for this project, optionally pointed at a given database URL."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at url (opens its own connection)."""
    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at url down."""
    command.downgrade(alembic_config(url), revision)


def upgrade_on(connection: Connection, revision: str = "head") -> None:
    """Migrate through an existing (sync) connection, for `await conn.run_sync(upgrade_on)`."""
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)
