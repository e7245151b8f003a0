"""Migration 0005 and the --object filter on a real PostgreSQL server."""

from __future__ import annotations

import pytest


@pytest.mark.postgres
def test_migration_and_filter_on_postgres():
    """0005 upgrades/downgrades on PostgreSQL (own scratch database) and the filter
    query runs there."""
    sa = pytest.importorskip("sqlalchemy")
    admin_url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql("DROP DATABASE IF EXISTS assetdb_objects_test")
            c.exec_driver_sql("CREATE DATABASE assetdb_objects_test")
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    from alembic import command
    from assetdb import db
    from assetdb.objects import segment_ids_for_objects
    from assetdb.schema import Asset, Segment, SegmentObject

    url = "postgresql+psycopg://postgres@127.0.0.1:5432/assetdb_objects_test"
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        command.downgrade(db._alembic_config(engine), "-1")
        db.upgrade(engine)
        db.check_schema(engine)
        from sqlalchemy.orm import Session

        with Session(engine) as s, s.begin():
            a = Asset(path="/x.mp4", kind="video")
            s.add(a)
            s.flush()
            seg = Segment(asset_id=a.id, index=0, kind="shot")
            s.add(seg)
            s.flush()
            s.add(SegmentObject(asset_id=a.id, segment_id=seg.id, label="truck", max_score=0.9,
                                count=1, frames=1))
            s.flush()
            assert segment_ids_for_objects(s, ["vehicle"]) == {seg.id}
            assert segment_ids_for_objects(s, ["car"]) == set()
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.exec_driver_sql("DROP DATABASE IF EXISTS assetdb_objects_test")
        admin.dispose()
