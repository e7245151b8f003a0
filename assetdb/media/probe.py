"""Recognise media by content (the scanner's sniffing) and read what a media manager
needs to know: kind, streams, duration, frame rate, display size and rotation, tags
(PyAV, Pillow). Content hashes for change and rename detection."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from assetdb.errors import MediaError
from assetdb.media import sequences
from assetdb.media.images import (
    AV_STILL_EXTS,
    HEIF_EXTS,
    RAW_EXTS,
    raw_reason,
    register_plugins,
)

log = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 4 << 20
# Above this size only the head, middle and tail are hashed (with the size): enough to
# tell files apart and to follow renames, without reading terabytes on every change.
FULL_HASH_MAX_BYTES = 64 << 20
AUDIO_CHECK_PACKETS = 64

VIDEO_EXTS = {
    ".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mxf", ".mpg", ".mpeg", ".ts", ".mts",
    ".m2ts", ".wmv", ".flv", ".3gp", ".ogv", ".dv", ".vob", ".r3d", ".braw",
}
AUDIO_EXTS = {
    ".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".wma",
    ".ac3", ".bwf", ".caf",
}
IMAGE_EXTS = {
    ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".dpx", ".exr", ".tga",
    ".pnm", ".pbm", ".pgm", ".ppm", ".jp2", ".j2k", ".j2c", ".jpc", ".jpf", ".jpx",
} | HEIF_EXTS | RAW_EXTS
MEDIA_EXTS = VIDEO_EXTS | AUDIO_EXTS | IMAGE_EXTS

_MAGIC: list[tuple[int, bytes]] = [
    (4, b"ftyp"), (0, b"RIFF"), (0, b"OggS"), (0, b"fLaC"), (0, b"ID3"), (0, b"\x1a\x45\xdf\xa3"),
    (0, b"\xff\xd8\xff"), (0, b"\x89PNG"), (0, b"GIF8"), (0, b"BM"), (0, b"II*\x00"),
    (0, b"MM\x00*"), (0, b"FORM"), (0, b"\x00\x00\x01\xba"), (0, b"\x00\x00\x01\xb3"),
    (0, b"FLV"), (0, b"caff"), (0, b"\x30\x26\xb2\x75"), (0, b"\x06\x0e\x2b\x34"),
    (0, b"SDPX"), (0, b"XPDS"), (0, b"\x76\x2f\x31\x01"), (4, b"moov"), (4, b"mdat"),
    (4, b"wide"), (4, b"free"), (0, b"\x00\x00\x00\x0cjP  "), (0, b"\xff\x4f\xff\x51"),
    (0, b"FUJIFILMCCD-RAW"), (0, b"IIRO"), (0, b"IIRS"), (0, b"IIU\x00"),
]
# ISO base media brands of still images (HEIC/HEIF/AVIF, Canon CR3)
IMAGE_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"crx ")


def _netpbm(head: bytes) -> bool:
    return len(head) >= 3 and head[:1] == b"P" and head[1:2] in b"123456" and head[2:3] in (
        b" ", b"\t", b"\r", b"\n")


def _head(path: Path, n: int) -> bytes:
    """The first ``n`` bytes of a file (empty when it cannot be read)."""
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def sniff_is_media(path: Path) -> bool:
    """True when the first bytes look like a media container (or an MPEG audio frame)."""
    head = _head(path, 16)
    if len(head) < 4:
        return False
    for off, magic in _MAGIC:
        if head[off : off + len(magic)] == magic:
            return True
    if _netpbm(head):
        return True
    # MPEG audio frame sync / ADTS
    return head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


def is_candidate(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_EXTS or sniff_is_media(path)


def content_hash(path: Path, size: int | None = None) -> str:
    """BLAKE2b-256 of the whole file, or of size + head/middle/tail for large files; of an
    image sequence, over every frame's (``assetdb.media.sequences.sequence_hash``)."""
    if sequences.is_sequence_path(path):
        return sequences.sequence_hash(sequences.load_sequence(path), content_hash)
    size = path.stat().st_size if size is None else size
    h = hashlib.blake2b(digest_size=32)
    with path.open("rb") as fh:
        if size <= FULL_HASH_MAX_BYTES:
            while chunk := fh.read(HASH_CHUNK_BYTES):
                h.update(chunk)
        else:
            h.update(b"sampled:%d" % size)
            for off in (0, size // 2 - HASH_CHUNK_BYTES // 2, size - HASH_CHUNK_BYTES):
                fh.seek(off)
                h.update(fh.read(HASH_CHUNK_BYTES))
    return h.hexdigest()


@dataclass
class ProbeInfo:
    kind: str  # video|image|audio
    container: str | None = None
    mime: str | None = None
    duration_s: float | None = None
    frame_rate: Fraction | None = None
    variable_frame_rate: bool = False
    frame_count: int | None = None
    width: int | None = None
    height: int | None = None
    rotation: int = 0
    video_codec: str | None = None
    audio_codec: str | None = None
    video_stream: int | None = None
    video_time_base: Fraction | None = None
    video_start_pts: int | None = None
    audio_streams: list[dict[str, Any]] = field(default_factory=list)
    subtitle_streams: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    # source timecode (assetdb.timecode): start as frames at the nominal rate, drop-frame
    # flag, the label as read, and the reel / tape name
    start_tc_frames: int = 0
    tc_drop: bool = False
    start_tc: str | None = None
    reel: str | None = None

    @property
    def has_audio(self) -> bool:
        return any(s.get("decodable", True) for s in self.audio_streams)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip().replace("Z", "+00:00")
    for fmt in (None, "%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            dt = datetime.fromisoformat(value) if fmt is None else datetime.strptime(value, fmt)
        except ValueError:
            continue
        if dt.tzinfo is not None:
            from datetime import UTC

            dt = dt.astimezone(UTC).replace(tzinfo=None)
        return dt
    return None


def _clean_tags(meta: dict[str, Any]) -> dict[str, str]:
    out = {}
    for k, v in meta.items():
        s = str(v).replace("\x00", "").strip()
        if s:
            out[str(k)] = s[:1000]
    return out


def probe_raw(path: Path) -> ProbeInfo:
    """A camera RAW (rawpy/LibRaw): size as developed, orientation."""
    try:
        import rawpy
    except ImportError as exc:
        raise MediaError("camera RAW needs the rawpy package") from exc
    try:
        with rawpy.imread(str(path)) as raw:
            sz = raw.sizes
            w, h, flip = sz.width, sz.height, sz.flip
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        reason = raw_reason(exc)
        raise MediaError(f"unreadable camera RAW: {reason}") from exc
    rotation = {3: 180, 5: 90, 6: 270}.get(flip, 0)
    if rotation in (90, 270):
        w, h = h, w
    return ProbeInfo(kind="image", container=f"raw ({path.suffix.lower().lstrip('.')})",
                     mime="image/x-raw", width=w, height=h, rotation=rotation, frame_count=1,
                     tags={"raw_decoder": "LibRaw"})


def probe_av_still(path: Path) -> ProbeInfo:
    """A single DPX or EXR frame: size, and its header's timecode/reel as tags."""
    from assetdb.media.frames import open_container

    try:
        with open_container(path) as c:
            cc = c.streams.video[0].codec_context
            info = ProbeInfo(kind="image", container=cc.name, width=cc.width, height=cc.height,
                             frame_count=1, mime=f"image/x-{cc.name}")
    except (MediaError, IndexError) as exc:
        raise MediaError(f"unreadable image: {exc}") from exc
    header = sequences.read_header(path)
    if header.timecode:
        info.tags["timecode"] = header.timecode
    if header.reel:
        info.reel = header.reel
    return info


def probe_image(path: Path) -> ProbeInfo:
    from PIL import ExifTags, Image, UnidentifiedImageError

    suffix = path.suffix.lower()
    if suffix in RAW_EXTS:
        return probe_raw(path)
    if suffix in AV_STILL_EXTS:
        return probe_av_still(path)
    register_plugins()
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            exif = im.getexif()
            orientation = exif.get(0x0112, 1)
            rotation = {3: 180, 6: 270, 8: 90}.get(orientation, 0)
            w, h = im.size
            tags: dict[str, Any] = {}
            created = None
            sub = exif.get_ifd(ExifTags.IFD.Exif) if exif else {}
            for src in (exif, sub):
                for k, v in (src or {}).items():
                    name = ExifTags.TAGS.get(k)
                    if name in ("Make", "Model", "DateTimeOriginal", "DateTime", "Artist",
                                "ImageDescription", "Software", "Copyright"):
                        tags[name] = str(v).strip("\x00 ")
            created = _parse_time(tags.get("DateTimeOriginal") or tags.get("DateTime"))
            fmt = (im.format or "").lower()
            mime = Image.MIME.get(im.format or "", None)
            n_frames = getattr(im, "n_frames", 1)
            if n_frames > 1 and getattr(im, "is_animated", False):
                total_ms = 0
                for i in range(n_frames):
                    im.seek(i)
                    total_ms += int(im.info.get("duration") or 0)
                tags["animation_frames"] = str(n_frames)
                tags["animation_duration_s"] = f"{total_ms / 1000:.3f}"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"unreadable image: {exc}") from exc
    if rotation in (90, 270):
        w, h = h, w
    info = ProbeInfo(kind="image", container=fmt, mime=mime, width=w, height=h,
                     rotation=rotation, tags=tags, created_at=created, frame_count=n_frames)
    return info


def _stream_rotation(container: Any, stream: Any) -> int:
    """Display rotation in degrees counter-clockwise (the display matrix, read off the
    first decoded frame; the legacy clockwise `rotate` tag as a fallback)."""
    try:
        for frame in container.decode(stream):
            rot = round(getattr(frame, "rotation", 0) or 0)
            if rot:
                return rot % 360
            break
    except Exception as exc:  # noqa: BLE001 - undecodable video is caught later with a reason
        log.debug("rotation not read from a frame: %s", exc)
    rot = stream.metadata.get("rotate")
    if rot is not None:
        try:
            return (-int(float(rot))) % 360
        except ValueError:
            return 0
    return 0


def _check_audio(container: Any, stream: Any) -> str | None:
    """Decode the first packets of an audio stream; return the error text if it fails."""
    n = decoded = 0
    first_error = None
    try:
        for packet in container.demux(stream):
            try:
                decoded += len(packet.decode())
            except Exception as exc:  # noqa: BLE001 - a damaged packet or two is tolerated
                first_error = first_error or f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            n += 1
            if n >= AUDIO_CHECK_PACKETS:
                break
    except Exception as exc:  # noqa: BLE001 - demuxer failure
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    if n and decoded * 2 < n:
        return first_error or "audio stream decodes to no samples"
    return None


REEL_KEYS = ("reel_name", "tape_name", "reel", "tape")


def set_source_timecode(info: ProbeInfo, label: str | None, reel: str | None,
                        rate: Fraction | None = None) -> None:
    """Record a start timecode label (and reel) read from a header; a label that does
    not parse at the rate is a warning, not a failure."""
    from assetdb.timecode import is_drop_frame, smpte_to_frames

    rate = rate or info.frame_rate
    info.reel = (reel or "").strip()[:128] or info.reel
    info.tc_drop = bool(rate and is_drop_frame(rate))
    if not label or not rate:
        return
    try:
        info.start_tc_frames, drop = smpte_to_frames(label, rate)
    except ValueError as exc:
        info.warnings.append(f"start timecode ignored: {exc}")
        return
    info.tc_drop = drop
    info.start_tc = label.strip()


def _av_source_timecode(info: ProbeInfo, container: Any, vstream: Any | None) -> None:
    """Start timecode and reel from stream metadata (QuickTime ``tmcd`` track, MXF
    timecode component) or the container's; the MXF material package name stands in
    for a reel when none is named."""
    metas = [dict(s.metadata) for s in container.streams
             if s is vstream or s.type == "data"]
    if vstream is not None:
        metas.insert(0, dict(vstream.metadata))
    metas.append(dict(container.metadata))
    label = next((m["timecode"] for m in metas if m.get("timecode")), None)
    reel = next((m[k] for m in metas for k in REEL_KEYS if m.get(k)), None)
    reel = reel or dict(container.metadata).get("material_package_name")
    set_source_timecode(info, label, reel)


def probe_sequence(path: Path) -> ProbeInfo:
    """An image sequence as a video clip: frame range, rate (and where it came from),
    gaps as a warning, start timecode and reel from the first frame's header."""
    seq = sequences.load_sequence(path)
    rate, source = sequences.sequence_rate(seq)
    info = probe_av(path)
    info.container = f"{seq.ext.lstrip('.').lower()} sequence"
    info.frame_rate = rate
    info.frame_count = seq.length
    info.duration_s = float(seq.length / rate)
    info.tags.update({"sequence_first_frame": str(seq.first), "sequence_last_frame": str(seq.last),
                      "sequence_frames_on_disk": str(len(seq.frames)),
                      "sequence_rate_source": source})
    warning = seq.gap_warning()
    if warning:
        info.warnings.append(warning)
    header = sequences.read_header(seq.files[0])
    info.start_tc = None
    set_source_timecode(info, header.timecode, header.reel, rate)
    if header.timecode is None:
        info.tags["sequence_timecode"] = "none in the header"
    try:
        info.created_at = datetime.fromtimestamp(seq.files[0].stat().st_mtime)
    except OSError:
        pass
    return info


def probe_av(path: Path) -> ProbeInfo:
    from assetdb.media.frames import open_container

    try:
        container = open_container(path)
    except MediaError as exc:
        raise MediaError(f"not a readable media file: {exc}") from exc
    with container:
        # Cover art (attached pictures) is not video.
        vstreams = [s for s in container.streams.video if not int(s.disposition or 0) & 0x400]
        astreams = list(container.streams.audio)
        tags = _clean_tags(dict(container.metadata))
        info = ProbeInfo(kind="audio", container=container.format.name, tags=tags)
        info.created_at = _parse_time(tags.get("creation_time") or tags.get("date"))
        if container.duration is not None:
            info.duration_s = container.duration / 1_000_000
        for s in container.streams.subtitles:
            codec = getattr(getattr(s, "codec_context", None), "name", None)
            info.subtitle_streams.append(
                {"index": s.index, "codec": codec, "language": s.language}
            )
        for s in astreams:
            cc = s.codec_context
            info.audio_streams.append({
                "index": s.index,
                "codec": cc.name if cc else None,
                "channels": cc.channels if cc else None,
                "sample_rate": cc.sample_rate if cc else None,
                "layout": cc.layout.name if cc and cc.layout else None,
                "language": s.language,
            })
        if info.audio_streams:
            info.audio_codec = info.audio_streams[0]["codec"]
        if vstreams:
            v = vstreams[0]
            cc = v.codec_context
            single_image = cc.name in ("png", "mjpeg", "bmp", "tiff", "webp", "gif") and (
                (v.frames or 0) <= 1 and not astreams and (info.duration_s or 0) < 0.1
            ) and not sequences.is_sequence_path(path)
            if not single_image:
                info.kind = "video"
                info.video_stream = v.index
                info.video_codec = cc.name
                info.width, info.height = cc.width, cc.height
                info.rotation = _stream_rotation(container, v)
                if info.rotation in (90, 270):
                    info.width, info.height = info.height, info.width  # as displayed
                rate = v.average_rate or v.guessed_rate or v.base_rate
                info.frame_rate = Fraction(rate) if rate else None
                if v.base_rate and rate and abs(float(v.base_rate) - float(rate)) > 0.01:
                    info.variable_frame_rate = True
                info.frame_count = v.frames or None
                info.video_time_base = Fraction(v.time_base) if v.time_base else None
                info.video_start_pts = v.start_time
                if v.duration and v.time_base:
                    info.duration_s = float(v.duration * v.time_base)
            else:
                raise MediaError("single-frame image in a media container")
        _av_source_timecode(info, container, vstreams[0] if vstreams else None)
        if info.kind == "audio":
            if not astreams:
                raise MediaError("no audio or video streams")
            s = astreams[0]
            if s.duration and s.time_base:
                info.duration_s = float(s.duration * s.time_base)
        # A broken audio track does not fail the asset: it is recorded and skipped.
        for entry, s in zip(info.audio_streams, astreams, strict=True):
            container.seek(0)
            err = _check_audio(container, s)
            if err:
                entry["decodable"] = False
                entry["error"] = err
                info.warnings.append(f"audio stream {s.index} fails to decode: {err}")
        if info.kind == "audio" and not info.has_audio:
            raise MediaError(info.warnings[0] if info.warnings else "audio does not decode")
    if info.kind == "video" and not astreams:
        _join_op_atom_sound(info, path)
    return info


def _join_op_atom_sound(info: ProbeInfo, path: Path) -> None:
    """List the sound files of an MXF OP-Atom clip as the picture file's audio."""
    from assetdb.media import mxf

    for f in mxf.joined_sound_files(path):
        try:
            sound = probe_av(f)
        except MediaError as exc:
            info.warnings.append(f"OP-Atom sound file {f.name} does not decode: {exc}")
            continue
        for entry in sound.audio_streams:
            info.audio_streams.append({**entry, "file": str(f)})
    if info.audio_streams:
        info.audio_codec = info.audio_streams[0]["codec"]
        info.tags["op_atom_sound_files"] = ", ".join(
            Path(s["file"]).name for s in info.audio_streams)


def probe(path: Path) -> ProbeInfo:
    """Probe a file by content. Raises MediaError with a one-line reason."""
    if sequences.is_sequence_path(path):
        return probe_sequence(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise MediaError(f"cannot stat: {exc.strerror}") from exc
    if st.st_size == 0:
        raise MediaError("empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise MediaError("permission denied")
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTS or (suffix not in VIDEO_EXTS | AUDIO_EXTS and _looks_like_image(path)):
        try:
            return probe_image(path)
        except MediaError as exc:
            # decided by content: an image that does not decode keeps the image's reason;
            # anything else named like an image (a video called .jpg) goes to FFmpeg
            if _looks_like_image(path) and suffix != ".gif":
                raise
            image_error = exc
        try:
            return probe_av(path)
        except MediaError:
            raise image_error from None
    return probe_av(path)


def _looks_like_image(path: Path) -> bool:
    """The first bytes are a still image's (Pillow, pillow-heif, LibRaw formats)."""
    head = _head(path, 16)
    return head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*",
                            b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51", b"FUJIFILMCCD-RAW",
                            b"IIRO", b"IIRS", b"IIU\x00")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ) or (head[4:8] == b"ftyp" and head[8:12] in IMAGE_BRANDS) or _netpbm(head)
