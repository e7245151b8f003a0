"""The faces schema and persons workflow on PostgreSQL (scratch database),
and the 0003 migration's upgrade/downgrade on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, inspect, select, text

from assetdb import persons
from assetdb.clustering import pairwise_scores
from assetdb.db import make_engine, upgrade
from assetdb.schema import Face, Person

PG_ADMIN = os.environ.get(
    "ASSETDB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture()
def pg_url():
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            name = f"assetdb_faces_{uuid.uuid4().hex[:8]}"
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means no server
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _check_migration(url: str) -> None:
    from alembic import command
    from assetdb.db import _alembic_config

    engine = make_engine(url)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"persons", "faces", "face_rejections"} <= tables
    command.downgrade(_alembic_config(engine), "0003-1")
    assert not {"persons", "faces", "face_rejections"} & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert "faces" in inspect(engine).get_table_names()
    engine.dispose()


def test_migration_sqlite(tmp_path):
    _check_migration(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_migration_postgres(pg_url):
    _check_migration(pg_url)


@pytest.mark.postgres
@pytest.mark.model
@pytest.mark.slow
def test_persons_workflow_postgres(pg_url, tmp_path, labeled):
    """The labelled photos' faces (extracted once) stored, clustered, named and
    searched on PostgreSQL."""
    from conftest import open_store
    from support import catalogue_image

    _, truth, works, results = labeled
    store = open_store(tmp_path, pg_url)
    ids = {}
    for w, r in zip(works, results, strict=True):
        nw = catalogue_image(store, w.path)
        with store.session() as s:
            persons.store_faces(s, nw.asset_id, r.faces)
        ids[nw.asset_id] = truth[w.asset_id]
    with store.session() as s:
        st = persons.assign_new_faces(s)
        assert st.assigned == 70
        persons.recluster(s)
    with store.session() as s:
        rows = s.execute(select(Face.asset_id, Face.person_id)).all()
        score = pairwise_scores([p for _, p in rows], [ids[a] for a, _ in rows])
        by_identity: dict[str, set[int]] = {}
        for a, p in rows:
            by_identity.setdefault(ids[a], set()).add(p)
        obama = by_identity["kn_obama"].pop()
        persons.name_person(s, obama, "Barack Obama")
    with store.session() as s:
        assert s.get(Person, obama).name == "Barack Obama"
        assert len(persons.segment_ids_for_persons(s, ["BARACK OBAMA"])) == 2
        persons.merge_persons(s, "Barack Obama", [by_identity["kn_biden"].pop()])
        persons.recluster(s)
    with store.session() as s:
        assert len(persons.list_faces(s, person="Barack Obama")) == 4
        assert persons.purge_faces(s)["faces"] == 70
    assert score["pairwise_precision"] >= 0.98 and score["bcubed_f"] >= 0.9
    store.close()
