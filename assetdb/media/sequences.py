"""Image sequences: frame-numbered files (``plate.1001.dpx``, ``shot_v003_1001.exr``,
``.tif``/``.png``/``.jpg``) taken as ONE video clip.

**Identity.** A sequence is its folder plus its pattern, written as the printf pattern
editors and FFmpeg use: ``/plates/A001/plate.%04d.dpx`` (``%d`` when the numbers are not
zero-padded). That string is the asset's path; the frame range is whatever files match
it now, so frames added, removed or re-rendered are seen by the next ingest (its size is
the sum of the frames', its mtime the newest frame's, its content hash covers every
frame's name and content).

**What is grouped.** At least ``MIN_FRAMES`` files with the same folder, head and
extension. DPX and EXR always; TIFF/PNG/JPEG only when the first frame carries no
camera EXIF (a folder of ``IMG_0001.JPG`` photos stays a folder of stills).

**Rate.** A sidecar beside the frames says it first: ``<name>.fps`` for the sequence
``<name>.####.ext`` (``plate.fps`` for ``plate.1001.dpx``), else ``sequence.fps`` in the
folder, holding one rate (``24``, ``25``, ``23.976`` or ``24000/1001``); a person wrote
it, and scanned plates often carry a wrong header. Else the first frame's header (DPX
film/TV header frame rate, EXR ``framesPerSecond``), else ``$ASSETDB_SEQUENCE_FPS``,
else 24. Where it came from is recorded on the asset (tag ``sequence_rate_source``:
sidecar, header or default).

**Gaps.** Missing frame numbers are reported as a warning; the clip keeps its frame
grid (frame N is at ``(N - first) / rate``) and a missing frame shows the frame before
it, as a player holds the last frame. Decoding goes through FFmpeg's image2 demuxer;
with gaps it reads a folder of symbolic links (one per frame number, a missing one
pointing at the frame before) made once per process in a temporary folder.

**EXR** is linear light: it is decoded with the sRGB transfer applied (FFmpeg's
``apply_trc``), i.e. tone-mapped for display and the models; the files are never
written.
"""

from __future__ import annotations

import atexit
import hashlib
import math
import os
import re
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from assetdb.errors import MediaError

SEQUENCE_EXTS = {".dpx", ".exr", ".tif", ".tiff", ".png", ".jpg", ".jpeg"}
ALWAYS_SEQUENCE_EXTS = {".dpx", ".exr"}
MIN_FRAMES = 2
DEFAULT_FPS = Fraction(24)
FPS_ENV = "ASSETDB_SEQUENCE_FPS"
SIDECAR_FPS = "sequence.fps"
CAMERA_EXIF_TAGS = (0x010F, 0x0110, 0x9003)  # Make, Model, DateTimeOriginal
# a frame-numbered file: head ending in "." "_" or "-", the number, the extension
FRAME_RE = re.compile(r"^(?P<head>.*[._-])(?P<num>\d+)(?P<ext>\.[A-Za-z0-9]+)$")
PATTERN_RE = re.compile(r"^(?P<head>.*[._-])%(?:0(?P<pad>\d+))?d(?P<ext>\.[A-Za-z0-9]+)$")


@dataclass
class Sequence:
    folder: Path
    head: str
    ext: str
    padding: int  # 0: numbers not zero-padded
    frames: list[int] = field(default_factory=list)  # sorted frame numbers on disk
    files: list[Path] = field(default_factory=list)  # in frame order

    @property
    def pattern(self) -> str:
        num = f"%0{self.padding}d" if self.padding else "%d"
        return f"{self.head}{num}{self.ext}"

    @property
    def path(self) -> Path:
        return self.folder / self.pattern

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    @property
    def length(self) -> int:
        """Frames on the clip's grid, gaps included."""
        return self.last - self.first + 1

    def gaps(self) -> list[tuple[int, int]]:
        """Missing frame numbers as inclusive (first, last) ranges."""
        out = []
        for a, b in zip(self.frames, self.frames[1:], strict=False):
            if b > a + 1:
                out.append((a + 1, b - 1))
        return out

    def gap_warning(self) -> str | None:
        gaps = self.gaps()
        if not gaps:
            return None
        missing = sum(b - a + 1 for a, b in gaps)
        shown = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in gaps[:10])
        more = ", ..." if len(gaps) > 10 else ""
        return (f"image sequence has {missing} missing frame(s) ({shown}{more}) in "
                f"{self.first}-{self.last}; the frame before each gap is held")


def _padding(nums: list[str]) -> int:
    """The zero-padded width of the frame numbers, 0 when they are not padded."""
    widths = {len(n) for n in nums}
    return widths.pop() if len(widths) == 1 and len(nums[0]) > 1 else 0


def _has_camera_exif(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            exif = im.getexif()
            sub = exif.get_ifd(0x8769) if exif else {}
            return any(t in exif or t in sub for t in CAMERA_EXIF_TAGS)
    except Exception:  # noqa: BLE001 - unreadable: not a camera photo we can tell about
        return False


def group_sequences(files: list[Path]) -> tuple[list[Sequence], list[Path]]:
    """Split scanned files into image sequences and the files left as they are."""
    groups: dict[tuple[Path, str, str], list[tuple[int, str, Path]]] = {}
    rest: list[Path] = []
    for p in files:
        m = FRAME_RE.match(p.name)
        if not m or m["ext"].lower() not in SEQUENCE_EXTS:
            rest.append(p)
            continue
        groups.setdefault((p.parent, m["head"], m["ext"]), []).append((int(m["num"]), m["num"], p))
    seqs: list[Sequence] = []
    for (folder, head, ext), items in groups.items():
        items.sort()
        ok = len(items) >= MIN_FRAMES and len({n for n, _, _ in items}) == len(items)
        if ok and ext.lower() not in ALWAYS_SEQUENCE_EXTS:
            ok = not _has_camera_exif(items[0][2])
        if not ok:
            rest.extend(p for _, _, p in items)
            continue
        seqs.append(Sequence(folder, head, ext, _padding([s for _, s, _ in items]),
                             [n for n, _, _ in items], [p for _, _, p in items]))
    return seqs, rest


def is_sequence_path(path: Path | str) -> bool:
    """True for a sequence's pattern path (``.../name.%04d.dpx``) that is not a file."""
    p = Path(path)
    return bool(PATTERN_RE.match(p.name)) and not p.is_file()


def load_sequence(path: Path | str) -> Sequence:
    """The sequence of a pattern path, from the files that match it now.
    Raises MediaError when none do."""
    p = Path(path)
    m = PATTERN_RE.match(p.name)
    if not m:
        raise MediaError(f"not an image sequence pattern: {p.name}")
    pad = int(m["pad"] or 0)
    digits = rf"\d{{{pad}}}" if pad else r"\d+"
    rx = re.compile(re.escape(m["head"]) + f"({digits})" + re.escape(m["ext"]) + "$")
    try:
        names = os.listdir(p.parent)
    except OSError as exc:
        raise MediaError(f"cannot list {p.parent}: {exc.strerror}") from exc
    found = sorted((int(mm[1]), p.parent / n) for n in names if (mm := rx.match(n)))
    if not found:
        raise MediaError(f"no frames match {p.name}")
    return Sequence(p.parent, m["head"], m["ext"], pad, [n for n, _ in found],
                    [f for _, f in found])


def exists(path: Path | str) -> bool:
    """A file, or a sequence with at least one frame."""
    if not is_sequence_path(path):
        return Path(path).exists()
    try:
        load_sequence(path)
    except MediaError:
        return False
    return True


def stat(path: Path | str) -> tuple[int, int]:
    """(size, mtime_ns) of a file, or of a sequence (total size, newest frame)."""
    if not is_sequence_path(path):
        st = Path(path).stat()
        return st.st_size, st.st_mtime_ns
    seq = load_sequence(path)
    size = mtime = 0
    for f in seq.files:
        st = f.stat()
        size += st.st_size
        mtime = max(mtime, st.st_mtime_ns)
    return size, mtime


def sequence_hash(seq: Sequence, file_hash: Any) -> str:
    """BLAKE2b-256 over every frame's number and content hash."""
    h = hashlib.blake2b(digest_size=32)
    h.update(b"sequence:" + seq.pattern.encode("utf-8", "surrogateescape"))
    for n, f in zip(seq.frames, seq.files, strict=True):
        h.update(b"%d:" % n + file_hash(f).encode())
    return h.hexdigest()


# ---- headers: rate, start timecode, reel --------------------------------------------


@dataclass
class FrameHeader:
    rate: Fraction | None = None
    timecode: str | None = None  # "HH:MM:SS:FF" or with ";" for drop-frame
    reel: str | None = None


def _bcd_timecode(value: int) -> str | None:
    """SMPTE 12M packed BCD (as DPX and EXR store it) to a label."""
    if value == 0xFFFFFFFF:  # DPX: undefined
        return None
    frames_byte, secs, mins, hours = (value & 0xFF, value >> 8 & 0x7F, value >> 16 & 0x7F,
                                      value >> 24 & 0x3F)
    drop = bool(frames_byte & 0x40)
    ff = (frames_byte >> 4 & 0x3) * 10 + (frames_byte & 0xF)

    def bcd(b: int) -> int:
        return (b >> 4) * 10 + (b & 0xF)

    nibbles = [frames_byte & 0xF, secs & 0xF, secs >> 4, mins & 0xF, mins >> 4, hours & 0xF]
    if max(nibbles) > 9 or ff > 59 or bcd(secs) > 59 or bcd(mins) > 59 or bcd(hours) > 23:
        return None  # not BCD: a field some writers leave as garbage
    return f"{bcd(hours):02d}:{bcd(mins):02d}:{bcd(secs):02d}{';' if drop else ':'}{ff:02d}"


def _text(raw: bytes) -> str | None:
    s = raw.split(b"\x00", 1)[0].decode("latin-1").strip()
    return s or None


def _rate(value: float) -> Fraction | None:
    if not value or math.isnan(value) or value <= 0 or value > 1000:
        return None
    for ntsc in (24000, 30000, 48000, 60000):
        if abs(value - ntsc / 1001) < 0.01:
            return Fraction(ntsc, 1001)
    return Fraction(value).limit_denominator(1001)


def read_dpx_header(path: Path) -> FrameHeader:
    """Frame rate (TV header, else film header), TV timecode and the input device name
    (where scanners and conform tools put the reel) of a DPX file."""
    with path.open("rb") as fh:
        head = fh.read(2048)
    if len(head) < 2048 or head[:4] not in (b"SDPX", b"XPDS"):
        return FrameHeader()
    e = ">" if head[:4] == b"SDPX" else "<"
    tv_rate = struct.unpack_from(e + "f", head, 1940)[0]
    film_rate = struct.unpack_from(e + "f", head, 1724)[0]
    tc = struct.unpack_from(e + "I", head, 1920)[0]
    return FrameHeader(rate=_rate(tv_rate) or _rate(film_rate), timecode=_bcd_timecode(tc),
                       reel=_text(head[1556:1588]))


def read_exr_header(path: Path) -> FrameHeader:
    """``framesPerSecond``, ``timeCode`` and ``reelName`` attributes of an OpenEXR file."""
    with path.open("rb") as fh:
        data = fh.read(1 << 16)
    if data[:4] != b"\x76\x2f\x31\x01":
        return FrameHeader()
    out = FrameHeader()
    pos = 8
    while pos < len(data) and data[pos] != 0:
        end = data.index(b"\x00", pos)
        name = data[pos:end].decode("latin-1")
        tend = data.index(b"\x00", end + 1)
        typ = data[end + 1:tend].decode("latin-1")
        size = struct.unpack_from("<i", data, tend + 1)[0]
        value = data[tend + 5:tend + 5 + size]
        pos = tend + 5 + size
        if name == "framesPerSecond" and typ == "rational" and size == 8:
            num, den = struct.unpack("<iI", value)
            out.rate = Fraction(num, den) if num > 0 and den else None
        elif name == "timeCode" and typ == "timecode" and size == 8:
            out.timecode = _bcd_timecode(struct.unpack("<I", value[:4])[0])
        elif name == "reelName" and typ == "string":
            out.reel = _text(value)
    return out


def read_header(path: Path) -> FrameHeader:
    ext = path.suffix.lower()
    try:
        if ext == ".dpx":
            return read_dpx_header(path)
        if ext == ".exr":
            return read_exr_header(path)
    except (OSError, ValueError, struct.error):
        pass
    return FrameHeader()


def parse_rate(raw: str, where: str) -> Fraction:
    """A frame rate written by a person: ``25``, ``23.976`` (NTSC rates snap to their
    exact fraction), ``24000/1001``."""
    try:
        rate = Fraction(raw.strip())
    except (ValueError, ZeroDivisionError):
        raise MediaError(f"{where}: {raw.strip()!r} is not a frame rate") from None
    if rate <= 0:
        raise MediaError(f"{where}: {raw.strip()!r} is not a frame rate")
    for n in (24, 30, 48, 60):  # 23.976 means 24000/1001, as every tool writes it
        ntsc = Fraction(n * 1000, 1001)
        if rate != ntsc and abs(rate - ntsc) < Fraction(1, 100):
            return ntsc
    return rate.limit_denominator(1001)


def default_rate() -> Fraction:
    raw = os.environ.get(FPS_ENV, "").strip()
    return parse_rate(raw, FPS_ENV) if raw else DEFAULT_FPS


def sidecar_rate(seq: Sequence) -> Fraction | None:
    """The rate a ``<name>.fps`` or ``sequence.fps`` file beside the frames gives."""
    for name in (f"{seq.head.rstrip('._-')}.fps", SIDECAR_FPS):
        side = seq.folder / name
        if side.is_file():
            return parse_rate(side.read_text(encoding="utf-8", errors="replace")[:64], str(side))
    return None


def sequence_rate(seq: Sequence) -> tuple[Fraction, str]:
    """(rate, where it came from: "sidecar", "header" or "default")."""
    rate = sidecar_rate(seq)
    if rate:
        return rate, "sidecar"
    rate = read_header(seq.files[0]).rate
    return (rate, "header") if rate else (default_rate(), "default")


# ---- decoding -------------------------------------------------------------------------

_LINK_DIRS: dict[tuple[str, tuple[int, ...]], Path] = {}


def _cleanup() -> None:
    for d in _LINK_DIRS.values():
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def _gapless_pattern(seq: Sequence) -> tuple[str, int]:
    """(image2 pattern, start number) over frames without gaps."""
    if not seq.gaps():
        return str(seq.path), seq.first
    key = (str(seq.path), tuple(seq.frames))
    d = _LINK_DIRS.get(key)
    if d is None or not d.is_dir():
        d = Path(tempfile.mkdtemp(prefix="assetdb-seq-"))
        by_num = dict(zip(seq.frames, seq.files, strict=True))
        held = seq.files[0]
        for n in range(seq.first, seq.last + 1):
            held = by_num.get(n, held)
            os.symlink(held, d / f"f{n - seq.first:09d}{seq.ext}")
        _LINK_DIRS[key] = d
    return str(d / f"f%09d{seq.ext}"), 0


def open_sequence(path: Path | str) -> Any:
    """A PyAV input container over the sequence (one video stream at its rate)."""
    import av

    seq = load_sequence(path)
    rate, _ = sequence_rate(seq)
    pattern, start = _gapless_pattern(seq)
    options = {"start_number": str(start), "framerate": f"{rate.numerator}/{rate.denominator}"}
    try:
        container = av.open(pattern, format="image2", options=options, metadata_errors="ignore")
    except Exception as exc:  # PyAV raises many types for bad input
        raise MediaError(f"cannot open sequence: {str(exc).splitlines()[0][:300]}") from exc
    if seq.ext.lower() == ".exr":
        # a decoder option: set before the first packet opens the decoder
        for s in container.streams.video:
            s.codec_context.options = {"apply_trc": "iec61966_2_1"}
    return container
