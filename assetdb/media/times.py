"""Media time as a stream stores it: an integer timestamp in a rational time base.

Seconds are derived, never stored as the truth: ``MediaTime(ts=512, time_base=1/12800)``
is exactly 0.04 s. Converting seconds back to a timestamp rounds to the nearest tick,
so a float that went through arithmetic (``seg.start_s + 0.5``) lands on the tick it
meant. SMPTE timecode is not here (``assetdb.timecode``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


def as_fraction(x: Fraction | float | str) -> Fraction:
    """An exact rational (floats are limited to a microsecond-scale denominator)."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, float):
        return Fraction(x).limit_denominator(10**9)
    return Fraction(x)


@dataclass(frozen=True, order=True)
class MediaTime:
    """``ts`` ticks of ``time_base`` seconds (relative to whatever origin the caller
    states: the stream's first frame for everything in ``assetdb.media.frames``)."""

    ts: int
    time_base: Fraction

    @classmethod
    def from_seconds(cls, seconds: Fraction | float, time_base: Fraction) -> MediaTime:
        """The tick nearest to ``seconds``."""
        tb = as_fraction(time_base)
        return cls(round(as_fraction(seconds) / tb), tb)

    @property
    def exact(self) -> Fraction:
        """Seconds, exactly."""
        return self.ts * self.time_base

    @property
    def seconds(self) -> float:
        return float(self.exact)

    def rescale(self, time_base: Fraction) -> MediaTime:
        """The same instant in another time base (nearest tick)."""
        return MediaTime.from_seconds(self.exact, time_base)

    def frame_number(self, rate: Fraction | float) -> int:
        """Index of the frame period (of a constant ``rate``) this instant falls on,
        rounded to the nearest period (frame times are on the grid, up to rounding)."""
        return round(self.exact * as_fraction(rate))
