"""Fixtures for the faces tests: real photos from ../shared/data/faces, the
dlib models from their packages, fresh stores in tmp dirs."""

from __future__ import annotations

import csv
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))

SHARED = SHARED_DATA


def _need_models() -> None:
    if importlib.util.find_spec("dlib") is None:
        pytest.skip("dlib (dlib-bin) is not installed")
    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("face-recognition-models is not installed")
    if not (SHARED / "faces" / "labels.csv").is_file():
        pytest.skip(f"shared test data missing at {SHARED}")


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
    truth = {aid: labels[Path(p).relative_to(folder).as_posix()] for aid, p in paths}
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
