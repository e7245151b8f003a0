"""Timecodes: one rule for every command (search hits, ``assets show``, highlights,
transcripts).

The rule:

- A time is a frame number in the source: ``round(seconds * rate)``, where ``rate`` is
  the stream's frame rate (the segment's, else the asset's). The frame number comes
  from the timestamp, never from counting decoded frames, so files that skip or
  repeat frames (VFR, AVI with dropped frames) get the same timecode everywhere.
- The label counts that frame on the nominal rate (the rate rounded to whole frames
  per second: 30 for 29.97). SMPTE drop-frame (``HH:MM:SS;FF``) is used at 29.97
  and 59.94 only; every other rate is non-drop (``HH:MM:SS:FF``).
- A range is in-point inclusive, out-point exclusive, as editors and EDLs expect:
  a shot of frames 0..24 at 25 fps runs ``00:00:00:00`` - ``00:00:01:00``.
- Without a frame rate (audio) a time is ``HH:MM:SS.mmm``.
- A still has no timecode range (``None``, ``None``).
"""

from __future__ import annotations

from fractions import Fraction

NTSC_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))
STILL = "still"


def is_drop_frame(rate: Fraction) -> bool:
    return any(abs(float(rate) - float(r)) < 0.005 for r in NTSC_RATES)


def frames_to_smpte(frame: int, rate: Fraction) -> str:
    """Timecode of a source frame number at a frame rate (drop-frame where it applies)."""
    if frame < 0:
        raise ValueError("negative frame number")
    nominal = max(1, round(float(rate)))
    if is_drop_frame(rate):
        drop = 2 * (nominal // 30)
        per_10min = nominal * 600 - drop * 9
        per_min = nominal * 60 - drop
        tens, rem = divmod(frame, per_10min)
        rem = max(rem, drop)  # the first frame numbers of a minute do not exist
        frame += drop * 9 * tens + drop * ((rem - drop) // per_min)
        sep = ";"
    else:
        sep = ":"
    ff = frame % nominal
    total_s = frame // nominal
    return f"{total_s // 3600:02d}:{total_s // 60 % 60:02d}:{total_s % 60:02d}{sep}{ff:02d}"


def seconds_to_frame(seconds: float | Fraction, rate: Fraction) -> int:
    """The source frame number at a time: ``round(seconds * rate)``."""
    return round(Fraction(seconds) * rate)


def clock(seconds: float | Fraction, sep: str = ".") -> str:
    """``HH:MM:SS.mmm`` (``sep`` before the milliseconds: "," for SRT)."""
    ms = max(0, round(float(seconds) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def seconds_to_smpte(seconds: float | Fraction, rate: Fraction | None) -> str:
    """The timecode of a point in time: SMPTE at a rate; without a rate, HH:MM:SS.mmm."""
    if not rate:
        return clock(seconds)
    return frames_to_smpte(max(0, seconds_to_frame(seconds, rate)), rate)


def range_timecodes(
    start_s: float | Fraction, end_s: float | Fraction, rate: Fraction | None, kind: str = ""
) -> tuple[str | None, str | None]:
    """(in, out) of a segment: in inclusive, out exclusive (the first time after it);
    ``(None, None)`` for a still."""
    if kind == STILL:
        return None, None
    return seconds_to_smpte(start_s, rate), seconds_to_smpte(max(start_s, end_s), rate)
