"""The CLI's value rendering: readable on a terminal, lossless when piped."""

from __future__ import annotations

import pytest

from cli.output import clock, container, fps, tsv_cell


@pytest.mark.parametrize(("rate", "shown"), [("2997/100", "29.97 fps"), ("30000/1001", "29.97 fps"),
                                             ("25", "25 fps"), (23.976, "23.976 fps"), (None, "")])
def test_frame_rate(rate, shown) -> None:
    assert fps(rate) == shown


@pytest.mark.parametrize(("name", "path", "shown"), [
    ("mov,mp4,m4a,3gp,3g2,mj2", "/a/b.mp4", "MP4"),
    ("mov,mp4,m4a,3gp,3g2,mj2", "/a/b.MOV", "MOV"),
    ("matroska,webm", "/a/b.webm", "WEBM"),
    ("matroska,webm", "/a/b.mkv", "Matroska"),
    ("avi", "/a/b.avi", "AVI"),
    ("mxf", None, "MXF"),
])
def test_container(name, path, shown) -> None:
    assert container(name, path) == shown


def test_clock() -> None:
    assert clock(0) == "00:00:00.000"
    assert clock(3725.5) == "01:02:05.500"
    assert clock(None) == ""


def test_tsv_cell_keeps_one_record_per_line() -> None:
    assert tsv_cell("a\tb\nc\\d\r") == "a\\tb\\nc\\\\d\\r"
    assert tsv_cell(None) == "" and tsv_cell(0.5) == "0.5" and tsv_cell(True) == "true"
