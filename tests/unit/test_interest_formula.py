"""The default interestingness formula and the selection helpers (no media)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from assetdb.highlights import WEIGHTS, SecondScore, ShotScore, combine, gate_terms, squash


def test_components_are_squashed_into_unit_range():
    for name, raw in [("motion", 0.03), ("change", 0.05), ("onset", 0.2)]:
        assert squash(name, raw) == pytest.approx(1 - math.exp(-1))
    assert squash("loudness", -50.0) == 0.0 and squash("loudness", -15.0) == 1.0
    assert squash("loudness", -70.0) == 0.0 and squash("novelty", 2.0) == 1.0
    assert squash("motion", None) is None


def test_missing_components_drop_out_of_both_sums():
    comps = {k: None for k in WEIGHTS}
    comps["motion"] = 1.0
    comps["loudness"] = 0.0
    score, base = combine(comps, gate=1.0, length=1.0)
    assert base == pytest.approx(0.20 / (0.20 + 0.15))
    assert score == pytest.approx(base)
    assert combine({k: None for k in WEIGHTS}, 1.0, 1.0) == (0.0, 0.0)


def test_gate_penalises_black_blurred_and_overexposed():
    good = gate_terms(blank=0.0, sharpness=2.5, brightness=0.5)["gate"]
    assert good == pytest.approx(1.0)
    assert gate_terms(blank=1.0, sharpness=2.5, brightness=0.5)["gate"] == 0.0
    assert gate_terms(blank=0.0, sharpness=0.5, brightness=0.5)["gate"] == pytest.approx(0.5)
    assert gate_terms(blank=0.0, sharpness=2.5, brightness=1.0)["gate"] == 0.0
    assert gate_terms(blank=0.0, sharpness=2.5, brightness=0.75)["gate"] == pytest.approx(1.0)


def _shot(start: float, end: float, per_second: list[float]) -> ShotScore:
    return ShotScore(
        asset_id=1,
        segment_id=1,
        index=0,
        start_s=start,
        end_s=end,
        score=float(np.mean(per_second)),
        base=0.0,
        length=1.0,
        gate={},
        components={},
        raw={},
        seconds=[SecondScore(start + i, v) for i, v in enumerate(per_second)],
    )


def test_best_window_finds_the_peak_and_usable_parts_skip_blank_runs():
    from assetdb.highlights.selection import _best_window, _usable

    shot = _shot(0.0, 10.0, [0.1, 0.1, 0.1, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1])
    a, v = _best_window(shot, 0.0, 10.0, 2.0)
    assert a == pytest.approx(3.0) and v == pytest.approx(0.9)
    assert _usable(shot, [[-1.0, 0.5], [4.0, 4.5], [9.5, 11.0]]) == [(0.5, 4.0), (4.5, 9.5)]


def test_import_assetdb_stays_light():
    code = (
        "import sys, assetdb, assetdb.highlights, assetdb.faces, assetdb.search, assetdb.index; "
        "print(sorted(m for m in ('torch', 'av', 'cv2', 'faiss', 'librosa') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_clips_carry_timecodes_by_the_one_rule():
    """Highlight clips show the same timecodes as search and `assets show`: frames from
    timestamps, in inclusive, out exclusive (drop-frame at 29.97)."""
    from fractions import Fraction

    from assetdb.highlights import Clip

    rate = Fraction(30000, 1001)
    clip = Clip(asset_id=1, path="/m/a.mp4", segment_id=1, segment_index=0, start_frame=30,
                end_frame=1830, start_s=Fraction(30 * 1001, 30000),
                end_s=Fraction(1830 * 1001, 30000), rate=rate, time_base=Fraction(1, 30000),
                start_pts=30 * 1001, end_pts=1830 * 1001, variable_rate=False, score=0.5,
                has_audio=True)
    d = clip.to_dict()
    assert (d["tc_in"], d["tc_out"]) == ("00:00:01;00", "00:01:01;02")
