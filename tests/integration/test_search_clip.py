"""open_clip end to end with a random-init small model (the real code path, no
weights), model recording, refusal to mix spaces, and switching with
``index rebuild --model``."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.conftest import require_shared_data

pytestmark = [pytest.mark.slow, pytest.mark.model]

DATA = require_shared_data()
MODEL = "ViT-S-32"
SPEC = f"clip:{MODEL}:random"
FILES = [
    DATA / "images" / "imagenet-1k-samples" / "n01530575_brambling.jpg",
    DATA / "images" / "imagenet-1k-samples" / "n02123045_tabby.jpg",
    DATA / "images" / "imagenet-1k-samples" / "n04285008_sports_car.jpg",
    DATA / "media" / "video" / "tree.avi",
]


@pytest.fixture(scope="module")
def clip_store(tmp_path_factory):
    pytest.importorskip("open_clip")
    pytest.importorskip("torchvision")
    os.environ["HF_HUB_OFFLINE"] = "1"
    from assetdb.config import Settings
    from assetdb.db import Store
    from indexer.ingest import ingest

    d = tmp_path_factory.mktemp("clip")
    store = Store.open(Settings(data_dir=d, database_url=f"sqlite:///{d / 'a.db'}"),
                       upgrade_schema=True)
    report = ingest(store, FILES, workers=1, extractors=["clip"],
                    options={"clip": {"model": MODEL, "pretrained": None}})
    assert not report.failed and not report.stage_failures, report.to_dict()
    yield store
    store.close()


def test_embedder_shapes_normalisation_determinism():
    from assetdb.models.clip import ClipEmbedder

    a = ClipEmbedder(MODEL, None)
    b = ClipEmbedder(MODEL, None)
    imgs = [np.full((90, 160, 3), v, np.uint8) for v in (0, 128, 255)]
    va, vb = a.embed_rgb(imgs), b.embed_rgb(imgs)
    assert va.shape == (3, a.dim) and va.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(va, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(va, vb, atol=1e-5)  # random init is seeded
    t = a.embed_text(["a bird", "a car", "a bird"])
    assert t.shape == (3, a.dim)
    np.testing.assert_allclose(t[0], t[2], atol=1e-6)
    assert a.space == SPEC


def test_clip_search_end_to_end(clip_store):
    from assetdb.search import SearchRequest, search
    from assetdb.spaces import recorded_model

    with clip_store.session() as s:
        assert recorded_model(s) == {"space": SPEC, "spec": SPEC}
    hits = search(clip_store, SearchRequest(query="a small bird", limit=10))
    assert {h.path for h in hits} >= {str(p) for p in FILES[:3]}
    assert all("visual" in h.sources for h in hits)
    like = search(clip_store, SearchRequest(like_image=FILES[2], limit=1))
    assert like[0].path == str(FILES[2])  # an image is its own nearest neighbour


def test_mixing_spaces_is_refused_and_rebuild_switches(clip_store):
    from typer.testing import CliRunner

    from assetdb.search import SearchRequest, search
    from cli.main import app
    from indexer.ingest import ingest

    extra = DATA / "images" / "imagenet-1k-samples" / "n01443537_goldfish.jpg"
    report = ingest(clip_store, [extra], workers=1, extractors=["concepts"])
    assert report.stage_failures and "refusing to mix" in report.stage_failures[0]["error"]

    env = {"ASSETDB_DATA_DIR": str(clip_store.settings.data_dir),
           "ASSETDB_DATABASE_URL": clip_store.settings.database_url}
    r = CliRunner().invoke(app, ["index", "rebuild", "--model", "concepts", "--json"], env=env)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["space"].startswith("concepts:") and rep["previous_space"] == SPEC
    assert rep["keyframes"] >= 5
    r = CliRunner().invoke(app, ["index", "status", "--json"], env=env)
    st = json.loads(r.stdout)
    assert [e["space"] for e in st["spaces"]] == [rep["space"]]
    assert st["spaces"][0]["vectors"] == rep["keyframes"]
    # every hit (cutoff 0): the ranking in the new space is what is checked here
    hits = search(clip_store, SearchRequest(query="a bird", kind="image", limit=1, cutoff=0))
    assert hits[0].path.endswith("brambling.jpg")
    r = CliRunner().invoke(app, ["index", "rebuild", "--model", "clip:nope"], env=env)
    assert r.exit_code == 1 and r.stderr.startswith("error: bad model")
