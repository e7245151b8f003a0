from fractions import Fraction

import pytest

from assetdb.timecode import frames_to_smpte, is_drop_frame, seconds_to_smpte

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [(0, "00:00:00;00"), (29, "00:00:00;29"), (30, "00:00:01;00"), (1799, "00:00:59;29"),
     (1800, "00:01:00;02"), (17982, "00:10:00;00"), (107892, "01:00:00;00")],
)
def test_drop_frame_2997(frame: int, expected: str) -> None:
    assert frames_to_smpte(frame, NTSC) == expected


def test_non_drop_rates() -> None:
    assert not is_drop_frame(Fraction(25))
    assert frames_to_smpte(25 * 61 + 3, Fraction(25)) == "00:01:01:03"
    assert frames_to_smpte(24 * 3600, Fraction(24000, 1001)) == "01:00:00:00"


def test_seconds_without_rate() -> None:
    assert seconds_to_smpte(3661.5, None) == "01:01:01.500"
    assert seconds_to_smpte(5.0, NTSC) == "00:00:05;00"
