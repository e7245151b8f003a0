"""SMPTE timecodes from rational times. Drop-frame (";" separator) for 29.97 and 59.94."""

from __future__ import annotations

from fractions import Fraction

NTSC_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))


def is_drop_frame(rate: Fraction) -> bool:
    return any(abs(float(rate) - float(r)) < 0.005 for r in NTSC_RATES)


def frames_to_smpte(frame: int, rate: Fraction) -> str:
    """Timecode of a frame number at a frame rate (drop-frame where it applies)."""
    if frame < 0:
        raise ValueError("negative frame number")
    nominal = max(1, int(round(float(rate))))
    if is_drop_frame(rate):
        drop = 2 * (nominal // 30)
        per_10min = nominal * 600 - drop * 9
        per_min = nominal * 60 - drop
        tens, rem = divmod(frame, per_10min)
        if rem < drop:
            rem = drop  # the first frame numbers of a minute do not exist
        frame += drop * 9 * tens + drop * ((rem - drop) // per_min)
        sep = ";"
    else:
        sep = ":"
    ff = frame % nominal
    total_s = frame // nominal
    return f"{total_s // 3600:02d}:{total_s // 60 % 60:02d}:{total_s % 60:02d}{sep}{ff:02d}"


def seconds_to_frame(seconds: float | Fraction, rate: Fraction) -> int:
    return int(round(Fraction(seconds) * rate))


def seconds_to_smpte(seconds: float | Fraction, rate: Fraction | None) -> str:
    """SMPTE at a rate; without a rate, HH:MM:SS.mmm."""
    if not rate:
        ms = int(round(float(seconds) * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
    return frames_to_smpte(seconds_to_frame(seconds, rate), rate)
