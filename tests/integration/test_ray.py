"""The same stage functions driven by Ray instead of the local process pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from assetdb.schema import Asset
from indexer.ingest import ingest
from tests.mediagen import make_video

pytestmark = pytest.mark.slow


def test_ingest_on_local_ray(sqlite_store, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'assetdb[ray]'")
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(3):
        make_video(lib / f"v{i}.mp4", shots_s=[0.5] * (i + 1), audio=False)
    try:
        report = ingest(sqlite_store, [lib], extractors=[], ray_address="local")
    finally:
        ray.shutdown()
    assert report.indexed == 3 and not report.failed
    with sqlite_store.session() as s:
        assert s.execute(select(func.count()).select_from(Asset).where(
            Asset.state == "indexed")).scalar_one() == 3
