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

from sqlalchemy import URL, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from assetdb.config import Settings
from assetdb.errors import AssetdbError, ConfigError, SchemaOutOfDate

log = logging.getLogger(__name__)


def migrations_dir() -> Path:
    """The Alembic script directory: shipped inside the wheel as ``assetdb/_migrations``,
    or the repository's ``alembic/`` in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_migrations", here.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise AssetdbError("assetdb's migrations are missing from this installation")


# Databases assetdb runs on; anything else is refused before a driver is looked for.
BACKENDS = ("sqlite", "postgresql")
# An unreachable server fails within this many seconds instead of hanging.
CONNECT_TIMEOUT_S = 5


def check_url(url: str) -> URL:
    """The parsed URL of a database assetdb can use, else ConfigError (one line).
    A SQLite file may be new, its folder must exist: a typo never creates folders."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"not a database URL: {url!r}; use sqlite:///PATH or postgresql://HOST/NAME"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        raise ConfigError(
            f"unsupported database {backend!r} in {parsed.render_as_string(hide_password=True)}; "
            "assetdb runs on sqlite:///PATH or postgresql://HOST/NAME"
        )
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).expanduser().absolute().parent
        if not folder.is_dir():
            raise ConfigError(f"cannot create the SQLite database {parsed.database}: "
                              f"folder {folder} does not exist")
    return parsed


def make_engine(url: str) -> Engine:
    parsed = check_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


def open_engine(settings: Settings, *, create_dirs: bool = False) -> Engine:
    """An engine on the settings' database, checked by connecting once: a bad URL, an
    unreachable server or a file that is not a database is a ConfigError, not a traceback."""
    if create_dirs:
        settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except DBAPIError as exc:
        engine.dispose()
        where = check_url(settings.database_url).render_as_string(hide_password=True)
        reason = str(exc.orig or exc).strip().splitlines()
        raise ConfigError(
            f"cannot open the database {where}: {reason[0] if reason else type(exc).__name__}"
        ) from exc
    return engine


def _alembic_config(engine: Engine):
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
        engine = open_engine(settings, create_dirs=True)
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

    def analyze(self) -> None:
        """Refresh the query planner's statistics (after a large write). PostgreSQL's
        planner otherwise plans a grown archive with the row counts of a small one until
        autovacuum comes round (never where it is off): searches at 1M shots took 2.6-9 s
        against 0.5-1.7 s at 10k (bench/scale.py) with the tables never analysed, 1.2-5 s
        once analysed. SQLite: ``PRAGMA optimize``, which analyses only tables its
        connection's queries have flagged (on SQLite 3.40 at 1M shots: nothing, and the
        same plans)."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("ANALYZE"))
            else:
                conn.exec_driver_sql("PRAGMA optimize")
            conn.commit()
