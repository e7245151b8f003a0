"""The faces schema and persons workflow on PostgreSQL (scratch database),
and the 0003 migration's upgrade/downgrade on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

import assetdb.faces as face_store
from assetdb.db import make_engine, upgrade
from assetdb.faces import pairwise_scores
from assetdb.schema import Asset, Face, Person, TextEntry
from indexer.ingest import ingest

PG_ADMIN = os.environ.get("ASSETDB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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
def test_persons_workflow_postgres(pg_url, tmp_path, faces_data):
    """Five identities (9 photos) ingested through the pipeline, clustered,
    named, merged and searched on PostgreSQL."""
    from conftest import open_store

    store = open_store(tmp_path, pg_url)
    folders = sorted((faces_data / "labeled").glob("kn_*"))
    report = ingest(store, folders, workers=1, extractors=["faces"])
    assert not report.stage_failures, report.to_dict()
    with store.session() as s:
        rows = s.execute(select(Asset.path, Face.person_id).join(Face)).all()
        truth = [Path(p).parent.name for p, _ in rows]
        score = pairwise_scores([p if p is not None else -1 for _, p in rows], truth)
        by_identity: dict[str, set[int]] = {}
        for t, (_, p) in zip(truth, rows, strict=True):
            by_identity.setdefault(t, set()).add(p)
        assert len(rows) == 9
        obama = by_identity["kn_obama"].pop()
        face_store.name_person(s, obama, "Barack Obama")
    with store.session() as s:
        assert s.get(Person, obama).name == "Barack Obama"
        assert len(face_store.segment_ids_for_persons(s, ["BARACK OBAMA"])) == 2
        face_store.merge_persons(s, "Barack Obama", [by_identity["kn_biden"].pop()])
        face_store.recluster(s)
    with store.session() as s:
        assert len(face_store.list_faces(s, person="Barack Obama")) == 4
        texts = s.scalars(select(TextEntry.text).where(TextEntry.source == "person")).all()
        assert texts.count("Barack Obama") == 4
        assert face_store.purge_faces(s)["faces"] == 9
    assert score["pairwise_precision"] >= 0.98 and score["bcubed_f"] >= 0.9
    store.close()
