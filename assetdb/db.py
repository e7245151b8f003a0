"""Engine, sessions and migrations.

Opening a database whose schema is behind the code raises SchemaOutOfDate with
the command to run; nothing migrates silently (``Store.open(..., upgrade=True)``
or ``assetdb db upgrade`` does it on purpose).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from assetdb.config import Settings
from assetdb.errors import AssetdbError, SchemaOutOfDate

log = logging.getLogger(__name__)


def migrations_dir() -> Path:
    """The Alembic script directory: shipped inside the wheel as ``assetdb/_migrations``,
    or the repository's ``alembic/`` in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_migrations", here.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise AssetdbError("assetdb's migrations are missing from this installation")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(engine: Engine):  # noqa: ANN202
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(create_engine("sqlite://"))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    if len(heads) != 1:
        raise AssetdbError(f"migrations have {len(heads)} heads; expected one")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


def check_schema(engine: Engine) -> None:
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None and not inspect(engine).get_table_names():
        raise SchemaOutOfDate("the database is empty; run `assetdb db upgrade` to create it")
    raise SchemaOutOfDate(
        f"the database schema is at {current or 'an unknown revision'}, this assetdb needs "
        f"{head}; run `assetdb db upgrade`"
    )


class Store:
    """A handle on one catalogue: settings, engine and session factory."""

    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(
        cls, settings: Settings, *, upgrade_schema: bool = False, create: bool = True
    ) -> Store:
        """Open a catalogue. A brand-new empty database is created (``create``); an
        existing one that is behind the code is only upgraded when asked."""
        settings.ensure_dirs()
        engine = make_engine(settings.database_url)
        if upgrade_schema or (
            create and current_revision(engine) is None and not inspect(engine).get_table_names()
        ):
            upgrade(engine)
        check_schema(engine)
        return cls(settings, engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as s, s.begin():
            yield s

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name
