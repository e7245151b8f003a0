"""Shared fixtures.

Database backends: ``--db sqlite,postgres`` (default: sqlite, plus postgres when the
server at ASSETDB_TEST_PG_URL / 127.0.0.1:5432 answers). Every test that takes the
``store`` fixture runs once per backend; each PostgreSQL test gets a fresh database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


def _find_shared_data() -> Path:
    """$ASSETDB_SHARED_DATA, else ../shared/data beside the checkout (or beside a parent
    folder, for git worktrees)."""
    env = os.environ.get("ASSETDB_SHARED_DATA")
    if env:
        return Path(env).resolve()
    for d in (REPO, *REPO.parents):
        if (d / ".." / "shared" / "data").is_dir():
            return (d / ".." / "shared" / "data").resolve()
    return (REPO / ".." / "shared" / "data").resolve()


SHARED_DATA = _find_shared_data()


def require_shared_data() -> Path:
    """For module-level use: skip the whole module when the shared media is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared media not found at {SHARED_DATA}", allow_module_level=True)
    return SHARED_DATA
def missing_package(*packages: str) -> str | None:
    """A skip reason naming the first model package that is not installed, else None."""
    import importlib.util

    for pkg in packages:
        if importlib.util.find_spec(pkg) is None:
            return f"model package {pkg} is not installed"
    return None


PG_ADMIN_URL = os.environ.get(
    "ASSETDB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", default=os.environ.get("ASSETDB_TEST_DB", "auto"),
                     help="comma-separated backends: sqlite,postgres (auto: both if reachable)")


def _pg_reachable() -> bool:
    from sqlalchemy import create_engine, text

    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


def _backends(config: pytest.Config) -> list[str]:
    opt = config.getoption("--db")
    if opt == "auto":
        return ["sqlite", "postgres"] if _pg_reachable() else ["sqlite"]
    return [b.strip() for b in opt.split(",") if b.strip()]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        backends = _backends(metafunc.config)
        metafunc.parametrize("db_backend", backends, scope="module",
                             ids=[f"db={b}" for b in backends])


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared media not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def media_dir(shared_data: Path) -> Path:
    return shared_data / "media"


class PgDatabase:
    """A scratch PostgreSQL database, dropped on close."""

    def __init__(self) -> None:
        from sqlalchemy import create_engine, text

        self.name = f"assetdb_t_{uuid.uuid4().hex[:12]}"
        self._admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name

    def close(self) -> None:
        from sqlalchemy import text

        with self._admin.connect() as c:
            c.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": self.name})
            c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}"'))
        self._admin.dispose()


def make_db_url(backend: str, data_dir: Path) -> tuple[str, PgDatabase | None]:
    if backend == "sqlite":
        return f"sqlite:///{data_dir / 'assetdb.sqlite3'}", None
    if backend == "postgres":
        pg = PgDatabase()
        return pg.url, pg
    raise ValueError(backend)


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    url, pg = make_db_url(db_backend, tmp_path / "data")
    yield url
    if pg is not None:
        pg.close()


@pytest.fixture
def settings(tmp_path: Path, db_url: str):
    from assetdb.config import load_settings

    return load_settings(data_dir=tmp_path / "data", database_url=db_url)


def open_store(data_dir: Path, database_url: str | None = None):
    """The one way tests open a store: a fresh, upgraded catalogue (SQLite in the data
    dir unless a URL is given)."""
    from assetdb.config import load_settings
    from assetdb.db import Store

    url = database_url or f"sqlite:///{data_dir / 'assetdb.sqlite3'}"
    return Store.open(load_settings(data_dir=data_dir, database_url=url), upgrade_schema=True)


@pytest.fixture
def store(settings) -> Iterator:
    st = open_store(settings.data_dir, settings.database_url)
    yield st
    st.close()


@pytest.fixture(scope="module")
def module_store(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A store shared by a module's tests (for expensive ingests)."""
    data = tmp_path_factory.mktemp("data")
    url, pg = make_db_url(db_backend, data)
    st = open_store(data, url)
    yield st
    st.close()
    if pg is not None:
        pg.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator:
    """SQLite only (for model-heavy tests that need not run on every backend)."""
    st = open_store(tmp_path / "data")
    yield st
    st.close()


@pytest.fixture(scope="module")
def sqlite_module_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """SQLite only, shared by a module's tests (model-heavy extractor tests)."""
    st = open_store(tmp_path_factory.mktemp("data"))
    yield st
    st.close()


def has_gpu() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if has_gpu():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
