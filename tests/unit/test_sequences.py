"""Image sequences: grouping rules, patterns, header timecodes (no database)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from assetdb.errors import MediaError
from assetdb.media import sequences as sq
from tests import prodmedia as pm


def _touch(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n in names:
        (folder / n).write_bytes(b"x")
        out.append(folder / n)
    return out


def test_grouping_patterns_and_gaps(tmp_path: Path) -> None:
    files = _touch(tmp_path, [f"plate.{i:04d}.dpx" for i in (1001, 1002, 1003, 1006)]
                   + [f"shot_v003_{i}.exr" for i in range(998, 1003)]
                   + ["single.0001.dpx", "clip.mov", "shot_v003_1001.txt"])
    seqs, rest = sq.group_sequences(files)
    by = {s.pattern: s for s in seqs}
    assert set(by) == {"plate.%04d.dpx", "shot_v003_%d.exr"}  # 998..1002: not padded
    plate = by["plate.%04d.dpx"]
    assert (plate.first, plate.last, plate.length) == (1001, 1006, 6)
    assert plate.gaps() == [(1004, 1005)]
    assert "2 missing frame(s) (1004-1005)" in plate.gap_warning()
    assert sorted(p.name for p in rest) == ["clip.mov", "shot_v003_1001.txt", "single.0001.dpx"]
    # the pattern path finds the same frames again, and is not a file
    again = sq.load_sequence(plate.path)
    assert again.frames == plate.frames and sq.is_sequence_path(plate.path)
    assert sq.stat(plate.path)[0] == 4 and sq.exists(plate.path)


def test_camera_photos_are_not_a_sequence(tmp_path: Path) -> None:
    img = Image.fromarray(np.zeros((8, 8, 3), np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    for i in range(1, 5):
        img.save(tmp_path / f"IMG_{i:04d}.jpg", exif=exif)
        img.save(tmp_path / f"render_{i:04d}.png")
    seqs, rest = sq.group_sequences(sorted(tmp_path.iterdir()))
    assert [s.pattern for s in seqs] == ["render_%04d.png"]
    assert len(rest) == 4


def test_header_timecodes_rate_and_reel(tmp_path: Path, monkeypatch) -> None:
    pm.dpx_sequence(tmp_path / "d", frames=2, timecode="23:59:59:23", fps=25.0, reel="A001C003")
    h = sq.read_header(tmp_path / "d" / "plate.1001.dpx")
    assert (h.timecode, h.rate, h.reel) == ("23:59:59:23", 25, "A001C003")
    assert sq.read_header(tmp_path / "d" / "plate.1002.dpx").timecode is None  # undefined
    pm.exr_sequence(tmp_path / "e", frames=2, missing=(), timecode="01:00:00;02",
                    fps=Fraction(30000, 1001), reel=None)
    h = sq.read_header(tmp_path / "e" / "shot_v003_1001.exr")
    assert (h.timecode, h.rate, h.reel) == ("01:00:00;02", Fraction(30000, 1001), None)
    # no rate in a PNG: the configured default, recorded as such
    for i in range(3):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / f"r_{i:03d}.png")
    seq = sq.load_sequence(tmp_path / "r_%03d.png")
    assert sq.sequence_rate(seq) == (24, "default")
    monkeypatch.setenv(sq.FPS_ENV, "25")
    assert sq.sequence_rate(seq) == (25, "default")


def test_a_sidecar_names_the_rate(tmp_path: Path) -> None:
    """``<name>.fps`` (or ``sequence.fps``) beside the frames wins over the header, and
    the asset records where its rate came from."""
    pm.dpx_sequence(tmp_path / "d", frames=3, fps=25.0)
    seq = sq.load_sequence(tmp_path / "d" / "plate.%04d.dpx")
    assert sq.sequence_rate(seq) == (25, "header")
    (tmp_path / "d" / "sequence.fps").write_text("24\n")
    assert sq.sequence_rate(seq) == (24, "sidecar")
    (tmp_path / "d" / "plate.fps").write_text("23.976")
    assert sq.sequence_rate(seq) == (Fraction(24000, 1001), "sidecar")
    (tmp_path / "d" / "plate.fps").write_text("fast")
    with pytest.raises(MediaError, match="plate.fps: 'fast' is not a frame rate"):
        sq.sequence_rate(seq)
