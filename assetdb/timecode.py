"""Timecodes: one rule for every command (search hits, ``assets show``, highlights,
transcripts, exports).

The rule:

- Every timecode shown or exported is SOURCE timecode: the asset's start timecode
  plus the frame number in the file. The start timecode is read at ingest from the
  QuickTime ``tmcd`` track, MXF metadata, the DPX TV header or the EXR ``timeCode``
  attribute and stored as ``Asset.start_tc_frames`` (a count of frames at the nominal
  rate from ``00:00:00:00``), ``Asset.tc_drop`` and ``Asset.reel``; a file without one
  starts at ``00:00:00:00``.
- A time is a frame number in the source: ``round(seconds * rate)``, where ``rate`` is
  the stream's frame rate (the segment's, else the asset's). The frame number comes
  from the timestamp, never from counting decoded frames, so files that skip or
  repeat frames (VFR, AVI with dropped frames) get the same timecode everywhere.
  The source frame is ``start_tc_frames + that number``.
- The label counts that frame on the nominal rate (the rate rounded to whole frames
  per second: 30 for 29.97). SMPTE drop-frame (``HH:MM:SS;FF``) is used at 29.97
  and 59.94 only, and there only when the source's timecode is drop-frame (files
  without a timecode track count drop-frame at those rates); every other rate is
  non-drop (``HH:MM:SS:FF``).
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


def frames_to_smpte(frame: int, rate: Fraction, drop: bool | None = None) -> str:
    """Timecode of a frame count at a frame rate. ``drop``: the source's timecode is
    drop-frame (``None``: drop-frame wherever the rate allows it); drop-frame is only
    ever used at 29.97 and 59.94."""
    if frame < 0:
        raise ValueError("negative frame number")
    nominal = max(1, round(float(rate)))
    if is_drop_frame(rate) and drop is not False:
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


def smpte_to_frames(tc: str, rate: Fraction) -> tuple[int, bool]:
    """(frame count from ``00:00:00:00``, drop-frame) of a label such as ``01:00:00:00``
    or ``00:59:59;29``. Raises ValueError for anything else."""
    text = tc.strip()
    drop = ";" in text or "." in text[8:]
    parts = text.replace(";", ":").replace(".", ":").split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a timecode: {tc!r}")
    hh, mm, ss, ff = (int(p) for p in parts)
    nominal = max(1, round(float(rate)))
    if mm > 59 or ss > 59 or ff >= nominal:
        raise ValueError(f"timecode {tc!r} out of range at {float(rate):.3f} fps")
    frames = (hh * 3600 + mm * 60 + ss) * nominal + ff
    if drop and is_drop_frame(rate):
        dropped = 2 * (nominal // 30)
        minutes = hh * 60 + mm
        frames -= dropped * (minutes - minutes // 10)
    else:
        drop = False
    return frames, drop


def source_frame(seconds: float | Fraction, rate: Fraction, start_tc_frames: int = 0) -> int:
    """The source frame (start timecode + frame in the file) at a time in the file."""
    return start_tc_frames + max(0, seconds_to_frame(seconds, rate))


def seconds_to_smpte(
    seconds: float | Fraction, rate: Fraction | None, start_tc_frames: int = 0,
    drop: bool | None = None,
) -> str:
    """The source timecode of a point in time: SMPTE at a rate (after the start
    timecode); without a rate, HH:MM:SS.mmm."""
    if not rate:
        return clock(seconds)
    return frames_to_smpte(source_frame(seconds, rate, start_tc_frames), rate, drop)


def range_timecodes(
    start_s: float | Fraction, end_s: float | Fraction, rate: Fraction | None, kind: str = "",
    start_tc_frames: int = 0, drop: bool | None = None,
) -> tuple[str | None, str | None]:
    """(in, out) source timecodes of a segment: in inclusive, out exclusive (the first
    time after it); ``(None, None)`` for a still."""
    if kind == STILL:
        return None, None
    return (seconds_to_smpte(start_s, rate, start_tc_frames, drop),
            seconds_to_smpte(max(start_s, end_s), rate, start_tc_frames, drop))
