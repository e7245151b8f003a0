"""One way to name an asset everywhere (defect 2): id, path (absolute, relative, with
``..``), a trailing part of the path, or a file name only one asset has."""

from __future__ import annotations

import pytest

from assetdb.catalogue import asset_details, resolve_asset
from assetdb.errors import NotFound, QueryError
from assetdb.schema import Asset


@pytest.fixture
def assets(store, tmp_path):
    root = tmp_path / "media"
    for d in ("a", "b"):
        (root / d).mkdir(parents=True)
    paths = {
        "clip_a": str(root / "a" / "clip.mp4"),
        "clip_b": str(root / "b" / "clip.mp4"),
        "jfk": str(root / "a" / "jfk.flac"),
        # stored before paths were normalised
        "legacy": str(root / "b") + "/../a/short_hamilton_clip.mp4",
    }
    ids = {}
    with store.session() as s:
        for key, p in paths.items():
            a = Asset(path=p, kind="video", state="indexed")
            s.add(a)
            s.flush()
            ids[key] = a.id
    return root, ids


def _resolve(store, ref):
    with store.session() as s:
        return resolve_asset(s, ref).id


def test_by_id_absolute_relative_and_dotdot(store, assets, monkeypatch):
    root, ids = assets
    assert _resolve(store, ids["jfk"]) == ids["jfk"]
    assert _resolve(store, str(ids["jfk"])) == ids["jfk"]
    assert _resolve(store, str(root / "a" / "jfk.flac")) == ids["jfk"]
    monkeypatch.chdir(root / "b")
    assert _resolve(store, "clip.mp4") == ids["clip_b"]  # the file in the working directory
    assert _resolve(store, "../a/jfk.flac") == ids["jfk"]
    assert _resolve(store, "./../a/clip.mp4") == ids["clip_a"]
    assert _resolve(store, "a/clip.mp4") == ids["clip_a"]  # a trailing part of the path
    assert _resolve(store, str(root / "a" / "short_hamilton_clip.mp4")) == ids["legacy"]


def test_by_unique_file_name_and_ambiguous_names(store, assets, monkeypatch, tmp_path):
    _, ids = assets
    monkeypatch.chdir(tmp_path)
    assert _resolve(store, "jfk.flac") == ids["jfk"]
    assert _resolve(store, "short_hamilton_clip.mp4") == ids["legacy"]
    with pytest.raises(QueryError, match=r"'clip.mp4' is ambiguous: it matches 2 assets"):
        _resolve(store, "clip.mp4")
    with pytest.raises(NotFound, match="no asset"):
        _resolve(store, "nothing.mp4")
    with pytest.raises(NotFound, match="no asset"):
        _resolve(store, "/elsewhere/jfk.flac")
    assert asset_details(store, "jfk.flac")["id"] == ids["jfk"]


def test_every_command_resolves_alike(store, assets, monkeypatch, tmp_path):
    """`faces list --asset NAME` and `transcript NAME` failed where `assets show NAME`
    worked: they had their own lookups."""
    import assetdb.sound
    from assetdb.faces import list_faces
    from assetdb.highlights import load_asset

    _, ids = assets
    monkeypatch.chdir(tmp_path)
    with store.session() as s:
        assert list_faces(s, asset="short_hamilton_clip.mp4") == []
        assert load_asset(s, "jfk.flac").id == ids["jfk"]
        with pytest.raises(QueryError, match="ambiguous"):
            list_faces(s, asset="clip.mp4")
    assert not hasattr(assetdb.sound, "resolve_asset")
