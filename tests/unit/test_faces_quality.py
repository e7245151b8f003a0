"""Face quality helpers and frame choice of the faces extractor (no model)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from indexer.extractors.faces import (
    box_iou,
    choose_upsample,
    extra_frame_times,
    frontalness,
    is_low_quality,
    laplacian_variance,
)
from indexer.work import AssetWork, KeyframeRef, SegmentRef


def test_frontalness_from_five_points():
    # dlib 5-point order: eye A (2 points), eye B (2 points), nose base
    frontal = np.array([[10, 10], [20, 10], [40, 10], [50, 10], [30, 30]], float)
    turned = frontal.copy()
    turned[4, 0] = 45  # nose under one eye: profile
    assert frontalness(frontal) == 1.0
    assert frontalness(turned) < 0.4


def test_laplacian_variance_orders_sharp_and_blurred():
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, (96, 96)).astype(np.float32)
    blurred = np.full((96, 96), 128.0) + np.linspace(0, 10, 96)[None, :]
    assert laplacian_variance(sharp) > 1000 > laplacian_variance(blurred)


def test_quality_floor_and_upsample():
    assert is_low_quality(30, 100, 0.9, 1.0)  # too small
    assert is_low_quality(100, 100, 0.1, 1.0)  # profile
    assert not is_low_quality(100, 100, 0.9, 1.0)
    assert choose_upsample(640, 360) == 1 and choose_upsample(1280, 720) == 0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == 5 * 10 / 150


def test_extra_frames_avoid_keyframes():
    seg = SegmentRef(index=0, kind="shot", time_base=Fraction(1, 1000), start_ts=0, end_ts=4000)
    seg.keyframes.append(KeyframeRef(0, 2000, 2.0, 50, Path("k.jpg")))
    short = SegmentRef(
        index=1, kind="shot", time_base=Fraction(1, 1000), start_ts=4000, end_ts=4200
    )
    w = AssetWork(
        asset_id=1, path=Path("v.mp4"), kind="video", data_dir=Path("."), segments=[seg, short]
    )
    times = extra_frame_times(w, 3)
    assert times == {0: [1.0, 3.0]}  # 2.0 is the keyframe; the 0.2 s shot gets none
