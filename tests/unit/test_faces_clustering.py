"""Constrained clustering and incremental assignment on synthetic
identity-structured embeddings (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from assetdb.faces import Constraints, assign_incremental, cluster, knn, pairwise_scores


def identities(n_ids: int, per_id: int, spread: float = 0.12, seed: int = 0):
    """Unit-ish 128-d centres far apart (~1.4 L2) with faces spread around them
    (same-identity distances ~0.2-0.35, like dlib's embeddings of one person)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_ids, 128)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.repeat(centres, per_id, axis=0)
    x += rng.normal(scale=spread / np.sqrt(128), size=x.shape).astype(np.float32)
    y = np.repeat(np.arange(n_ids), per_id)
    return x.astype(np.float32), y


def test_knn_matches_brute_force():
    x, _ = identities(20, 5)
    d, i = knn(x, 4)
    full = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :4], atol=1e-4)
    assert (i[:, 0] == np.arange(len(x))).all()


def test_cluster_recovers_identities():
    x, y = identities(30, 6)
    labels, conf = cluster(x)
    s = pairwise_scores(labels, y.tolist())
    assert s["pairwise_precision"] == 1.0 and s["bcubed_f"] == 1.0
    assert len(set(labels.tolist())) == 30
    assert (conf > 0).all()


def test_same_frame_faces_never_share_a_cluster():
    x, _y = identities(5, 4)
    c = Constraints.none(len(x))
    # faces 0 and 1 (same identity) were seen in one frame
    c.frame_key[0] = c.frame_key[1] = 42
    labels, _ = cluster(x, c)
    assert labels[0] != labels[1]
    assert labels[2] == labels[3]  # the rest of that identity still groups


def test_anchors_and_rejections():
    x, _y = identities(4, 5)
    c = Constraints.none(len(x))
    c.fixed[0] = 100  # a user put face 0 into person 100 ...
    c.fixed[5] = 100  # ... together with face 5 (another identity)
    c.forbidden[7] = {100}  # and said face 7 is not person 100
    labels, _ = cluster(x, c)
    assert labels[0] == labels[5]
    assert labels[7] != labels[0]
    # two anchors never merge even when their faces are close
    c2 = Constraints.none(len(x))
    c2.fixed[0], c2.fixed[1] = 1, 2
    labels2, _ = cluster(x, c2)
    assert labels2[0] != labels2[1]


def test_low_quality_faces_only_join():
    x, _ = identities(3, 4)
    outlier = np.random.default_rng(5).normal(size=(1, 128)).astype(np.float32)
    x = np.vstack([x, outlier])
    c = Constraints.none(len(x))
    c.seedable[:] = True
    c.seedable[0] = False  # a blurred face of identity 0: joins its cluster
    c.seedable[-1] = False  # a blurred face of nobody: stays noise
    labels, _ = cluster(x, c)
    assert labels[0] == labels[1] >= 0
    assert labels[-1] == -1


def test_incremental_assignment_joins_and_creates():
    x, y = identities(6, 5, seed=3)
    person = np.full(len(x), -1, np.int64)
    # the first face of each identity is already assigned to person 10 + identity
    first = np.arange(0, len(x), 5)
    person[first] = 10 + y[first]
    todo = np.setdiff1d(np.arange(len(x)), first)
    c = Constraints.none(len(x))
    c.frame_key[1] = c.frame_key[0] = 7  # face 1 shares face 0's frame
    out, conf, created = assign_incremental(x, person.copy(), todo, c)
    for i in todo:
        if i == 1:
            assert out[i] != 10  # cannot join the person already in its frame
        elif y[i] == 0:
            assert out[i] in (10, out[1])  # the nearest of the two, Immich-style
        else:
            assert out[i] == 10 + y[i]
            assert 0 < conf[i] <= 1
    assert created == 1  # face 1 started a new person


def test_incremental_min_samples_defers():
    x, _y = identities(2, 3, seed=1)
    person = np.full(len(x), -1, np.int64)
    c = Constraints.none(len(x))
    out, _, created = assign_incremental(x, person, np.array([0]), c, min_samples=5)
    assert out[0] == -1 and created == 0  # too few neighbours: waits


def test_pairwise_scores_known_values():
    s = pairwise_scores(np.array([0, 0, 1, 1]), ["a", "a", "a", "b"])
    # pairs: (0,1) tp; (2,3) fp; (0,2),(1,2) fn
    assert s["pairwise_precision"] == pytest.approx(0.5)
    assert s["pairwise_recall"] == pytest.approx(1 / 3)
    s = pairwise_scores(np.array([-1, -1]), ["a", "b"])
    assert s["bcubed_f"] == 1.0
