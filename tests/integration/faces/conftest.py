"""Fixtures for the faces tests: real photos from ../shared/data/faces, the
dlib models from their packages, fresh stores in tmp dirs."""

from __future__ import annotations

import csv
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

_REPO = Path(__file__).resolve().parents[3]
# ../shared/data from the repository root (a worktree sits one level deeper).
SHARED = next(
    (
        p
        for p in (_REPO / ".." / "shared" / "data", _REPO / ".." / ".." / "shared" / "data")
        if p.is_dir()
    ),
    _REPO / ".." / "shared" / "data",
)


def _need_models() -> None:
    if importlib.util.find_spec("dlib") is None:
        pytest.skip("dlib (dlib-bin) is not installed")
    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("face-recognition-models is not installed")
    if not (SHARED / "faces" / "labels.csv").is_file():
        pytest.skip(f"shared test data missing at {SHARED}")


def open_store(data_dir: Path, url: str | None = None):
    from assetdb.config import load_settings
    from assetdb.db import Store

    url = url or f"sqlite:///{data_dir / 'assetdb.sqlite3'}"
    return Store.open(load_settings(data_dir=data_dir, database_url=url), upgrade_schema=True)


@pytest.fixture(scope="session")
def faces_data() -> Path:
    _need_models()
    return SHARED / "faces"


@pytest.fixture(scope="session")
def extractor(faces_data):
    from indexer.extractors.faces import FacesExtractor

    ex = FacesExtractor()
    ex.load()
    return ex


@pytest.fixture(scope="session")
def labeled(tmp_path_factory, faces_data, extractor):
    """The 70 labelled photos ingested once through the project's pipeline
    (about 40 s on one core): the data dir and {asset_id: identity}."""
    from sqlalchemy import select

    from assetdb.schema import Asset
    from indexer.ingest import ingest

    root = tmp_path_factory.mktemp("labeled")
    store = open_store(root)
    folder = faces_data / "labeled"
    report = ingest(store, [folder], workers=1, extractors=["faces"])
    assert not report.failed and not report.stage_failures, report.to_dict()
    labels = {r["file"]: r["identity"] for r in csv.DictReader((faces_data / "labels.csv").open())}
    with store.session() as s:
        paths = s.execute(select(Asset.id, Asset.path)).all()
    truth = {aid: labels[Path(p).relative_to(folder.absolute()).as_posix()] for aid, p in paths}
    store.close()
    assert len(truth) == 70
    return root, truth


@pytest.fixture()
def labeled_copy(tmp_path, labeled):
    """A private copy of the labelled store (tests may change it)."""
    root, truth = labeled
    dest = tmp_path / "data"
    shutil.copytree(root, dest)
    return dest, truth


def ingest_paths(store, paths):
    """Ingest through the project's pipeline with only the faces extractor;
    returns {file name: asset id}."""
    from sqlalchemy import select

    from assetdb.schema import Asset
    from indexer.ingest import ingest

    report = ingest(store, list(paths), workers=1, extractors=["faces"])
    assert not report.failed and not report.stage_failures, report.to_dict()
    with store.session() as s:
        return {Path(p).name: aid for aid, p in s.execute(select(Asset.id, Asset.path))}
