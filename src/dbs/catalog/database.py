"""Opening the catalog: engine, sessions, automatic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from dbs.errors import DbsError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest migration. Checked cheaply on every open so that a CLI call does not
# pay for importing Alembic when the catalog is already current; a test keeps this
# equal to Alembic's own head.
HEAD_REVISION = "0002"


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the server and CLI commands use the catalog at the same time.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(value) if value is not None else None


def migrate(engine: Engine) -> None:
    """Bring the catalog schema to the newest revision."""
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_catalog(url: str) -> Catalog:
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    except Exception as exc:  # bad URL syntax or missing driver
        raise DbsError(
            f"DBS_DATABASE_URL: cannot use {url.split('@')[-1]!r}: {exc}; use e.g. "
            "postgresql://user@127.0.0.1:5432/dbs_catalog",
            code="InvalidParameter.DatabaseUrl",
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        migrate(engine)
    except Exception as exc:
        engine.dispose()
        where = url.split("@")[-1]  # never show a password from the URL
        raise DbsError(
            f"cannot open the catalog at {where}: {exc.__class__.__name__}: {exc}",
            code="CatalogUnavailable",
        ) from None
    return Catalog(engine)
