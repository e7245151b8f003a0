"""CMX3600 edit decision lists that an online editor can conform.

What a conformer expects, and what this writer does:

- Source timecode is the clip's own: its start timecode (``Clip.tc_start``) plus the
  frame, counted at the *source's* rate, drop-frame only where the source's timecode is
  (29.97 / 59.94, unless the file says non-drop). A 25 fps clip in a 29.97 timeline keeps
  25 fps source timecode.
- Record timecode counts at the timeline's rate (its first clip's) from ``01:00:00:00``
  (``record_start``); record durations of sources at another rate are their real
  durations at the record rate (a mixed-rate timeline plays every clip at speed).
- ``FCM: DROP FRAME`` / ``FCM: NON-DROP FRAME`` in the header (the record's) and again
  before any event whose source frame-code mode differs from the one last stated.
- A clip with sound is one ``AA/V`` event (picture and two audio channels), one without
  is ``V``. Dissolves are the classic two-line ``C`` + ``D nnn`` events.
- Reel names are at most 8 characters (the asset's tape/reel name, else its file name),
  unique within the list; ``* FROM CLIP NAME:`` gives the file name and
  ``* SOURCE FILE:`` its full path. Markers are ``* LOC:`` lines (Avid, Resolve).
- Only rates an EDL can express are written (23.976, 24, 25, 29.97, 30, 48, 50, 59.94,
  60); anything else (10, 15, 26.777 fps, variable frame rate) is refused with one line
  that names OpenTimelineIO, which keeps exact times for any rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from assetdb.errors import AssetdbError
from assetdb.highlights.reel import Clip, Reel
from assetdb.timecode import frames_to_smpte, is_drop_frame

EDL_RATES = (
    Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
    Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60),
)
RATE_TOLERANCE = 0.005  # fps: stream rates come as 2997/100 as well as 30000/1001
REEL_LEN = 8
MAX_EVENTS = 999
DEFAULT_RECORD_START = "01:00:00:00"
TC_RE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})[:;.,](\d{2})$")
LOC_COLOURS = ("RED", "GREEN", "BLUE", "CYAN", "MAGENTA", "YELLOW", "BLACK", "WHITE")


class ExportError(AssetdbError):
    """A timeline cannot be written in the asked-for format."""


@dataclass
class Marker:
    """A locator at ``offset_s`` into a clip (``clip`` = its index in the reel)."""

    clip: int
    offset_s: float
    text: str
    colour: str = "YELLOW"


def edl_rate(rate: Fraction | float | None) -> Fraction | None:
    """The standard timecode rate ``rate`` is, or None when no EDL can express it."""
    if not rate:
        return None
    for r in EDL_RATES:
        if abs(float(rate) - float(r)) < RATE_TOLERANCE:
            return r
    return None


def fps_label(rate: Fraction) -> str:
    r = float(rate)
    return f"{r:.3f}".rstrip("0").rstrip(".") if r != round(r) else str(round(r))


def refusal(clip: Clip) -> str | None:
    """Why ``clip`` cannot go into an EDL (None when it can)."""
    name = Path(clip.path).name
    if clip.variable_rate:
        return (f"{name} has a variable frame rate, which no CMX3600 EDL can express; "
                "export .otio instead (exact times at any rate)")
    return rate_refusal(clip, "no CMX3600 EDL")


def rate_refusal(clip: Clip, what: str) -> str | None:
    """Why ``clip``'s rate is not a timecode rate (None when it is)."""
    if edl_rate(clip.rate) is None:
        return (f"{Path(clip.path).name} runs at {fps_label(clip.rate)} fps, a rate {what} "
                "can express; export .otio instead (exact times at any rate)")
    return None


def smpte(frame: int, rate: Fraction, drop: bool) -> str:
    """Timecode label of a frame count at a standard rate; ``drop`` only at 29.97/59.94."""
    if drop and is_drop_frame(rate):
        return frames_to_smpte(frame, rate)
    return frames_to_smpte(frame, Fraction(round(float(rate))))


def parse_timecode(tc: str, rate: Fraction, drop: bool | None = None) -> int:
    """Frame count of ``HH:MM:SS:FF`` (``;`` = drop-frame) at a standard rate."""
    m = TC_RE.match(tc.strip())
    nominal = round(float(rate))
    if not m or int(m.group(2)) > 59 or int(m.group(3)) > 59 or int(m.group(4)) >= nominal:
        raise ExportError(f"bad timecode {tc!r}: expected HH:MM:SS:FF at {fps_label(rate)} fps")
    h, mi, s, f = (int(x) for x in m.groups())
    if drop is None:
        drop = ";" in tc and is_drop_frame(rate)
    frames = ((h * 60 + mi) * 60 + s) * nominal + f
    if drop and is_drop_frame(rate):
        d = 2 * (nominal // 30)
        minutes = h * 60 + mi
        frames -= d * (minutes - minutes // 10)
    return frames


def check_timecode(tc: str) -> str:
    """``tc`` if it reads as ``HH:MM:SS:FF`` at some rate (checked before any work)."""
    m = TC_RE.match(tc.strip())
    if not m or int(m.group(2)) > 59 or int(m.group(3)) > 59 or int(m.group(4)) >= 60:
        raise ExportError(f"bad timecode {tc!r}: expected HH:MM:SS:FF, e.g. 01:00:00:00")
    return tc.strip()


def reel_names(clips: list[Clip]) -> dict[str, str]:
    """An 8-character reel name per source file, unique in the list: the asset's
    tape/reel name when it has one, else its file name (A-Z 0-9 _ only)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for c in clips:
        if c.path in out:
            continue
        base = re.sub(r"[^A-Z0-9_]", "_", (c.tape or Path(c.path).stem).upper()).strip("_")
        name = (base or "AX")[:REEL_LEN]
        n = 1
        while name in taken:
            n += 1
            name = base[: REEL_LEN - len(str(n))] + str(n)
        taken.add(name)
        out[c.path] = name
    return out


def drop_of(clip: Clip) -> bool:
    return clip.tc_drop if clip.tc_drop is not None else is_drop_frame(clip.rate)


def _fcm(drop: bool) -> str:
    return "FCM: DROP FRAME" if drop else "FCM: NON-DROP FRAME"


def write_edl(
    reel: Reel,
    title: str = "assetdb",
    *,
    record_start: str = DEFAULT_RECORD_START,
    markers: list[Marker] | None = None,
) -> str:
    """The CMX3600 text of ``reel`` (see the module docstring for the rules)."""
    if not reel.clips:
        raise ExportError("the timeline has no clips to write")
    for c in reel.clips:
        why = refusal(c)
        if why:
            raise ExportError(f"cannot write an EDL: {why}")
    rec_rate = edl_rate(reel.clips[0].rate)
    assert rec_rate is not None
    rec_drop = drop_of(reel.clips[0])
    rec0 = parse_timecode(record_start, rec_rate, rec_drop)  # 01:00:00:00 = 01:00:00;00 in DF
    reels = reel_names(reel.clips)
    by_clip: dict[int, list[Marker]] = {}
    for m in markers or []:
        by_clip.setdefault(m.clip, []).append(m)

    def rtc(frame: int) -> str:
        return smpte(frame, rec_rate, rec_drop)

    # record cut points: cumulative real durations at the record rate
    bounds = [rec0]
    t = Fraction(0)
    for c in reel.clips:
        t += Fraction(c.frames) / edl_rate(c.rate)
        bounds.append(rec0 + round(t * rec_rate))

    def src(c: Clip, frame: int) -> str:
        return smpte(c.tc_start + frame, edl_rate(c.rate), drop_of(c))

    def to_src(c: Clip, rec_frames: int) -> int:
        return round(Fraction(rec_frames) * edl_rate(c.rate) / rec_rate)

    lines = [f"TITLE: {_title(title)}", _fcm(rec_drop), ""]
    stated = rec_drop
    num = 0
    # (source end frame, record end) of the previous video event, for dissolves
    prev: tuple[Clip, int, int] | None = None
    for i, c in enumerate(reel.clips):
        before, after = c.xfade_in if i else (0, 0)
        nxt_before = reel.clips[i + 1].xfade_in[0] if i + 1 < len(reel.clips) else 0
        rec_in = bounds[i] - before
        rec_out = bounds[i + 1] - nxt_before
        s_in = c.start_frame - to_src(c, before)
        s_out = c.end_frame - to_src(c, nxt_before)
        chan = ("AA/V" if c.has_audio else "V") if c.has_video else "AA"
        drop = drop_of(c)
        num += 1
        if num > MAX_EVENTS:
            raise ExportError(f"more than {MAX_EVENTS} events; a CMX3600 EDL holds 999 "
                              "(export .otio or split the timeline)")
        block: list[str] = []
        if drop != stated:
            block.append(_fcm(drop))
            stated = drop
        dissolve = before + after
        split_audio = False
        if dissolve and prev is not None:
            pc, p_src_out, p_rec_out = prev
            vchan = chan
            if c.has_audio != pc.has_audio:
                vchan, split_audio = "V", c.has_audio  # dissolve the picture, cut the sound
            block.append(_event(num, reels[pc.path], vchan, "C", src(pc, p_src_out),
                                src(pc, p_src_out), rtc(p_rec_out), rtc(p_rec_out)))
            block.append(_event(num, reels[c.path], vchan, f"D {dissolve:03d}", src(c, s_in),
                                src(c, s_out), rtc(rec_in), rtc(rec_out)))
            block.append(f"* FROM CLIP NAME: {Path(pc.path).name}")
            block.append(f"* TO CLIP NAME: {Path(c.path).name}")
        else:
            block.append(_event(num, reels[c.path], chan, "C", src(c, s_in), src(c, s_out),
                                rtc(rec_in), rtc(rec_out)))
            block.append(f"* FROM CLIP NAME: {Path(c.path).name}")
        block.append(f"* SOURCE FILE: {c.path}")
        for m in by_clip.get(i, []):
            at = bounds[i] + round(Fraction(m.offset_s).limit_denominator(10**6) * rec_rate)
            colour = m.colour.upper() if m.colour.upper() in LOC_COLOURS else "YELLOW"
            block.append(f"* LOC: {rtc(at)} {colour:<7} {_title(m.text)}")
        lines += block
        if split_audio:
            num += 1
            lines.append(_event(num, reels[c.path], "AA", "C", src(c, s_in), src(c, s_out),
                                rtc(rec_in), rtc(rec_out)))
            lines.append(f"* FROM CLIP NAME: {Path(c.path).name}")
            lines.append(f"* SOURCE FILE: {c.path}")
        lines.append("")
        prev = (c, s_out, rec_out)
    return "\n".join(lines)


def _event(num: int, reel: str, chan: str, edit: str, s_in: str, s_out: str, r_in: str,
           r_out: str) -> str:
    return f"{num:03d}  {reel:<8} {chan:<5} {edit:<8} {s_in} {s_out} {r_in} {r_out}"


def _title(text: str) -> str:
    """One line of plain text (EDL readers are line based)."""
    return " ".join(str(text).split())[:70]
