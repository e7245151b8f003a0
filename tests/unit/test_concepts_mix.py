"""The ConSE mix (top-k, floor, temperature, COCO detections) on known class vectors;
the real models are exercised by tests/integration/test_search_media.py."""

from __future__ import annotations

import numpy as np

from assetdb.models.concepts import ConceptEmbedder, ConceptParams, class_texts


def _embedder(params: ConceptParams) -> ConceptEmbedder:
    e = ConceptEmbedder(params=params, use_objects=False, cache_dir=None)
    e._class_emb = np.eye(8, 384, dtype=np.float32)  # class c -> unit axis c
    e._label_emb = {"person": np.eye(384, dtype=np.float32)[100],
                    "car": np.eye(384, dtype=np.float32)[101]}
    return e


def test_top_k_floor_and_normalisation():
    p = np.array([0.6, 0.3, 0.05, 0.05, 0, 0, 0, 0])
    v = _embedder(ConceptParams(top_k=2, floor=0.0, temperature=1.0)).combine(p)
    assert np.isclose(np.linalg.norm(v), 1.0)
    np.testing.assert_allclose(v[:3] / v[0], [1.0, 0.5, 0.0], atol=1e-6)
    v = _embedder(ConceptParams(top_k=8, floor=0.1, temperature=1.0)).combine(p)
    assert v[2] == 0 and v[3] == 0  # below the floor
    v = _embedder(ConceptParams(top_k=8, floor=0.9, temperature=1.0)).combine(p)
    assert v[0] == 1.0  # nothing passes the floor: the top class alone


def test_temperature_flattens():
    p = np.array([0.8, 0.2, 0, 0, 0, 0, 0, 0])
    sharp = _embedder(ConceptParams(top_k=2, floor=0.0, temperature=1.0)).combine(p)
    flat = _embedder(ConceptParams(top_k=2, floor=0.0, temperature=5.0)).combine(p)
    assert flat[1] / flat[0] > sharp[1] / sharp[0]
    np.testing.assert_allclose(flat[1] / flat[0], (0.2 / 0.8) ** (1 / 5), rtol=1e-5)


def test_objects_join_with_their_weight_one_per_label():
    p = np.array([1.0, 0, 0, 0, 0, 0, 0, 0])
    e = _embedder(ConceptParams(top_k=1, objects_weight=0.25))
    dets = [("person", 0.9, (0, 0, 1, 1)), ("person", 0.8, (0, 0, 1, 1)), ("car", 0.9, (0, 0, 1, 1))]
    v = e.combine(p, dets)
    assert np.isclose(np.linalg.norm(v), 1.0)
    assert np.isclose(v[100], v[101])  # two persons count once, at the best score
    ratio = v[100] / v[0]  # 0.25 * (0.5/|.|) vs 0.75
    np.testing.assert_allclose(ratio, 0.25 * 0.5 / np.sqrt(0.5) / 0.75, rtol=1e-5)
    np.testing.assert_allclose(e.combine(p, []), e.combine(p))


def test_class_texts_drop_latin_after_the_common_name():
    syns = [["tench", "Tinca tinca"], ["German shepherd", "German police dog", "alsatian"]]
    assert class_texts(syns, "joined", "a photo of a {}.") == [
        ["a photo of a tench."],
        ["a photo of a German shepherd, German police dog, alsatian."],
    ]
    assert class_texts(syns, "all", "{}")[0] == ["tench"]
    assert class_texts(syns, "first", "{}")[1] == ["German shepherd"]
