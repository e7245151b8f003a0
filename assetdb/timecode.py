"""SMPTE timecodes from frame numbers and a frame rate.

Non-drop-frame ``HH:MM:SS:FF`` counts frames at the nominal (rounded) rate, so
23.976 fps is labelled as 24 fps material, as editing systems do. 29.97 and 59.94
fps use drop-frame ``HH:MM:SS;FF``: frame numbers 0 and 1 (0-3 at 59.94) are skipped
at the start of every minute except each tenth, which keeps the label within a
frame or two of wall-clock time.
"""

from __future__ import annotations

from fractions import Fraction

DROP_FRAME_RATES = {Fraction(30000, 1001): 2, Fraction(60000, 1001): 4}
HOURS_PER_DAY = 24


def is_drop_frame(rate: Fraction) -> bool:
    return Fraction(rate) in DROP_FRAME_RATES


def frames_to_timecode(frame: int, rate: Fraction | float, *, drop_frame: bool | None = None) -> str:
    """The SMPTE label of frame number ``frame`` (0 = 00:00:00:00) at ``rate``."""
    rate = Fraction(rate).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, not {rate}")
    if frame < 0:
        raise ValueError(f"frame number must not be negative, not {frame}")
    nominal = round(rate)
    drop = DROP_FRAME_RATES.get(rate, 0)
    if drop_frame is None:
        drop_frame = drop > 0
    if drop_frame and drop:
        per_10min = nominal * 600 - drop * 9
        per_min = nominal * 60 - drop
        tens, rem = divmod(frame, per_10min)
        frame += drop * 9 * tens
        if rem > drop:
            frame += drop * ((rem - drop) // per_min)
    ff = frame % nominal
    total_s = frame // nominal
    ss = total_s % 60
    mm = (total_s // 60) % 60
    hh = (total_s // 3600) % HOURS_PER_DAY
    sep = ";" if drop_frame and drop else ":"
    return f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:02d}"


def seconds_to_timecode(seconds: float, rate: Fraction | float | None) -> str:
    """The label of the frame shown at ``seconds`` (rate None: 25 fps labels,
    e.g. for audio segments and stills)."""
    r = Fraction(rate).limit_denominator(1001) if rate else Fraction(25)
    frame = int(Fraction(seconds).limit_denominator(10**6) * r + Fraction(1, 10**6))
    return frames_to_timecode(max(frame, 0), r)
