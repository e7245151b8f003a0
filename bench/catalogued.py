"""Shared by the gate benches: the work items of files catalogued into a throwaway store."""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def catalogued_works(tmp: str, paths: list[Path | str], kinds=("video", "image")) -> list:
    """Catalogue ``paths`` (no extractors) into a SQLite store under ``tmp`` and return
    the work items (``indexer.work.AssetWork``) of its assets of the given kinds."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from assetdb.config import load_settings
    from assetdb.db import Store
    from assetdb.schema import Asset, Segment
    from indexer.ingest import ingest
    from indexer.work import work_from_asset

    store = Store.open(load_settings(data_dir=tmp, database_url=f"sqlite:///{tmp}/a.sqlite3"))
    ingest(store, paths, workers=2, extractors=[])
    with store.session() as s:
        assets = s.execute(select(Asset).where(Asset.state == "indexed").options(
            selectinload(Asset.segments).selectinload(Segment.keyframes))).scalars().all()
        works = [work_from_asset(a, Path(tmp)) for a in assets if a.kind in kinds]
    store.close()
    return works


def still_links(folder: Path, n: int) -> Path:
    """``folder`` filled with symlinks to the first ``n`` ImageNet sample photos."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in sorted((SHARED / "images" / "imagenet-1k-samples").glob("*.jpg"))[:n]:
        (folder / p.name).symlink_to(p)
    return folder
