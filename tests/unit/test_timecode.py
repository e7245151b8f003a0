from fractions import Fraction

import pytest

from assetdb.timecode import frames_to_timecode, seconds_to_timecode

NTSC = Fraction(30000, 1001)
NTSC60 = Fraction(60000, 1001)


@pytest.mark.parametrize(
    ("frame", "rate", "expected"),
    [
        (0, 25, "00:00:00:00"),
        (24, 25, "00:00:00:24"),
        (25, 25, "00:00:01:00"),
        (25 * 3600, 25, "01:00:00:00"),
        (24 * 60, Fraction(24000, 1001), "00:01:00:00"),  # 23.976 counts at 24
        (29, NTSC, "00:00:00;29"),
        (1799, NTSC, "00:00:59;29"),
        (1800, NTSC, "00:01:00;02"),  # frames ;00 and ;01 are dropped
        (17982, NTSC, "00:10:00;00"),  # ...but not at the tenth minute
        (17982 * 6, NTSC, "01:00:00;00"),
        (3597, NTSC60, "00:00:59;57"),
        (3600, NTSC60, "00:01:00;04"),
        (35964, NTSC60, "00:10:00;00"),
        (30 * 86400, 30, "00:00:00:00"),  # wraps at 24 h
    ],
)
def test_frames_to_timecode(frame, rate, expected):
    assert frames_to_timecode(frame, rate) == expected


def test_drop_frame_labels_are_unique_and_increasing():
    labels = [frames_to_timecode(f, NTSC) for f in range(40000)]
    assert len(set(labels)) == len(labels)
    assert labels == sorted(labels)


def test_non_drop_can_be_forced():
    assert frames_to_timecode(1800, NTSC, drop_frame=False) == "00:01:00:00"


def test_seconds_to_timecode():
    assert seconds_to_timecode(2.0, 25) == "00:00:02:00"
    assert seconds_to_timecode(60.06, NTSC) == "00:01:00;02"  # 60.06 s = frame 1800
    assert seconds_to_timecode(1.5, None) == "00:00:01:12"


def test_bad_input():
    with pytest.raises(ValueError):
        frames_to_timecode(-1, 25)
    with pytest.raises(ValueError):
        frames_to_timecode(0, 0)
