"""Production media for tests, made with PyAV: ProRes MOV and DNxHD MXF with a start
timecode, DPX and OpenEXR frame sequences with header timecodes, stills."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

from tests.mediagen import COLOURS


def _picture(i: int, w: int, h: int, shots: int = 2, n: int = 24) -> np.ndarray:
    """Frame ``i`` of ``n``: ``shots`` flat colours with a moving bar (a cut halfway)."""
    shot = min(shots - 1, i * shots // n)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = COLOURS[shot % len(COLOURS)]
    x = (i * 3) % max(1, w - 8)
    img[:, x:x + 8] = 255
    return img


def make_clip(path: Path, codec: str, *, fps: Fraction, frames: int, timecode: str | None,
              reel: str | None = None, size: tuple[int, int] = (160, 96), pix_fmt: str,
              fmt: str | None = None, bit_rate: int | None = None,
              audio_tracks: int = 0, channels: int = 2) -> Path:
    """A clip in ``codec`` with a start timecode (QuickTime tmcd / MXF timecode)."""
    import av

    w, h = size
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        if bit_rate:
            vs.bit_rate = bit_rate
        if timecode:
            vs.metadata["timecode"] = timecode
        if reel:
            vs.metadata["reel_name"] = reel
            out.metadata["reel_name"] = reel
        a_streams = []
        for _ in range(audio_tracks):
            a = out.add_stream("pcm_s24le" if fmt == "mxf" else "pcm_s16le", rate=48000)
            a.layout = "mono" if channels == 1 else f"{channels}.0" if channels != 2 else "stereo"
            a_streams.append(a)
        spf = round(48000 / fps)
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(_picture(i, w, h, n=frames), format="rgb24")
            f.pts, f.time_base = i, 1 / fps
            for p in vs.encode(f):
                out.mux(p)
            for k, a in enumerate(a_streams):
                t = (np.arange(spf) + i * spf) / 48000
                tone = (0.2 * np.sin(2 * np.pi * (220 * (k + 1)) * t) * 8_000_000)
                fmt_name = "s32" if fmt == "mxf" else "s16"
                scale = 256 if fmt == "mxf" else 1 / 256
                samples = np.repeat((tone * scale).astype(np.int32 if fmt == "mxf" else np.int16)
                                    [None, :], a.channels, axis=0)
                af = av.AudioFrame.from_ndarray(samples.reshape(1, -1, order="F"),
                                                format=fmt_name, layout=a.layout.name)
                af.sample_rate, af.pts, af.time_base = 48000, i * spf, Fraction(1, 48000)
                for p in a.encode(af):
                    out.mux(p)
        for p in vs.encode():
            out.mux(p)
        for a in a_streams:
            for p in a.encode():
                out.mux(p)
    return path


def prores_mov(path: Path, **kw) -> Path:
    """24 frames of ProRes 422 at 23.976 starting at 01:00:00:00, reel A001."""
    args = {"fps": Fraction(24000, 1001), "frames": 24, "timecode": "01:00:00:00", "reel": "A001",
                "pix_fmt": "yuv422p10le"}
    args.update(kw)
    return make_clip(path, "prores_ks", **args)


def dnxhd_mxf(path: Path, **kw) -> Path:
    """25 fps DNxHD 36 (1920x1080) OP1a MXF starting at 10:00:00:00, reel TAPE01."""
    args = {"fps": Fraction(25), "frames": 25, "timecode": "10:00:00:00", "reel": "TAPE01",
                "pix_fmt": "yuv422p", "size": (1920, 1080), "fmt": "mxf", "bit_rate": 36_000_000}
    args.update(kw)
    return make_clip(path, "dnxhd", **args)


def _bcd(tc: str) -> int:
    """SMPTE 12M packed BCD of ``HH:MM:SS:FF`` (drop-frame flag for ``;``)."""
    hh, mm, ss, ff = (int(x) for x in tc.replace(";", ":").split(":"))

    def b(v: int) -> int:
        return (v // 10) << 4 | v % 10

    return b(hh) << 24 | b(mm) << 16 | b(ss) << 8 | b(ff) | (0x40 if ";" in tc else 0)


def _still(path: Path, codec: str, pix_fmt: str, img: np.ndarray) -> Path:
    import av

    h, w = img.shape[:2]
    with av.open(str(path), "w", format="image2") as out:
        s = out.add_stream(codec, rate=24)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        if pix_fmt != "rgb24":
            f = f.reformat(format=pix_fmt)
        for p in s.encode(f):
            out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def dpx_sequence(folder: Path, *, first: int = 1001, frames: int = 48,
                 timecode: str | None = "01:02:03:04", fps: float = 24.0,
                 reel: str | None = "R042", size: tuple[int, int] = (96, 64)) -> Path:
    """``plate.NNNN.dpx`` frames with the TV header timecode, frame rate and input device
    name (reel) set the way a scanner writes them; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    for i in range(frames):
        p = _still(folder / f"plate.{first + i:04d}.dpx", "dpx", "rgb48le",
                   _picture(i, w, h, n=frames))
        data = bytearray(p.read_bytes())
        e = ">" if data[:4] == b"SDPX" else "<"
        tc = _bcd(timecode) if timecode else 0xFFFFFFFF
        struct.pack_into(e + "I", data, 1920, tc if i == 0 else 0xFFFFFFFF)
        struct.pack_into(e + "f", data, 1940, fps)
        struct.pack_into(e + "f", data, 1724, fps)
        name = (reel or "").encode()[:31]
        data[1556:1588] = name + b"\x00" * (32 - len(name))
        p.write_bytes(bytes(data))
    return folder


def _exr_attribute(name: str, typ: str, value: bytes) -> bytes:
    return name.encode() + b"\x00" + typ.encode() + b"\x00" + struct.pack("<i", len(value)) + value


def _exr_add_attributes(path: Path, attrs: bytes, chunks: int) -> None:
    """Insert header attributes into an OpenEXR file, moving its chunk offsets along."""
    data = bytearray(path.read_bytes())
    pos = 8
    while data[pos] != 0:
        end = data.index(b"\x00", pos)
        tend = data.index(b"\x00", end + 1)
        size = struct.unpack_from("<i", data, tend + 1)[0]
        pos = tend + 5 + size
    table = pos + 1
    offsets = struct.unpack_from(f"<{chunks}Q", data, table)
    new = data[:pos] + attrs + data[pos:]
    struct.pack_into(f"<{chunks}Q", new, table + len(attrs), *(o + len(attrs) for o in offsets))
    path.write_bytes(bytes(new))


def exr_sequence(folder: Path, *, first: int = 1001, frames: int = 12,
                 missing: tuple[int, ...] = (1005, 1006), timecode: str | None = "00:59:58:00",
                 fps: Fraction = Fraction(25), reel: str | None = "B007",
                 size: tuple[int, int] = (64, 48)) -> Path:
    """``shot_v003_NNNN.exr`` (float, linear, uncompressed) with ``timeCode``,
    ``framesPerSecond`` and ``reelName`` attributes, frames in ``missing`` left out."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    for i in range(frames):
        n = first + i
        if n in missing:
            continue
        display = _picture(i, w, h, n=frames).astype(np.float32) / 255.0
        linear = np.where(display <= 0.04045, display / 12.92, ((display + 0.055) / 1.055) ** 2.4)
        import av

        p = folder / f"shot_v003_{n:04d}.exr"
        with av.open(str(p), "w", format="image2") as out:
            s = out.add_stream("exr", rate=fps)  # FFmpeg writes it as framesPerSecond
            s.width, s.height, s.pix_fmt = w, h, "gbrpf32le"
            s.options = {"compression": "none"}
            # PyAV takes planar float RGB as (h, w, 3) in R, G, B order
            f = av.VideoFrame.from_ndarray(linear.astype(np.float32), format="gbrpf32le")
            for pk in s.encode(f):
                out.mux(pk)
            for pk in s.encode():
                out.mux(pk)
        attrs = b""
        if timecode and n == first:
            attrs += _exr_attribute("timeCode", "timecode", struct.pack("<II", _bcd(timecode), 0))
        if reel:
            attrs += _exr_attribute("reelName", "string", reel.encode())
        if attrs:
            _exr_add_attributes(p, attrs, chunks=h)
    return folder


def dng(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """A 12-bit RGGB camera RAW in DNG (pidng), reddish: R high, G and B low."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import (
        CalibrationIlluminant,
        CFAPattern,
        DNGVersion,
        Orientation,
        PhotometricInterpretation,
        PreviewColorSpace,
    )

    w, h = size
    raw = np.zeros((h, w), np.uint16)
    raw[0::2, 0::2], raw[0::2, 1::2], raw[1::2, 0::2], raw[1::2, 1::2] = 3000, 800, 800, 500
    ccm = [[19549, 10000], [-7877, 10000], [-2582, 10000], [-5724, 10000], [10121, 10000],
           [1917, 10000], [-1267, 10000], [-110, 10000], [6621, 10000]]
    t = DNGTags()
    for tag, value in [
        (Tag.ImageWidth, w), (Tag.ImageLength, h), (Tag.TileWidth, w), (Tag.TileLength, h),
        (Tag.Orientation, Orientation.Horizontal),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1), (Tag.BitsPerSample, 12), (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, CFAPattern.RGGB), (Tag.BlackLevel, 256), (Tag.WhiteLevel, 4095),
        (Tag.ColorMatrix1, ccm), (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65),
        (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]), (Tag.Make, "TestCam"),
        (Tag.Model, "Generated"), (Tag.DNGVersion, DNGVersion.V1_4),
        (Tag.DNGBackwardVersion, DNGVersion.V1_2), (Tag.PreviewColorSpace, PreviewColorSpace.sRGB),
    ]:
        t.set(tag, value)
    r = RAW2DNG()
    r.options(t, path=str(path.parent), compress=False)
    r.convert(raw, filename=path.stem)
    return path


def stills(folder: Path) -> dict[str, tuple[int, int]]:
    """One still per format (file name -> (width, height)); the picture is a red field
    with a white bar so a decode can be checked."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    w, h = 80, 60
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (200, 30, 30)
    img[:, 30:40] = 255
    pil = Image.fromarray(img)
    out: dict[str, tuple[int, int]] = {}
    for name in ("frame.ppm", "frame.pnm", "frame.jp2", "frame.j2k", "frame.jpg", "frame.png"):
        pil.save(folder / name)
        out[name] = (w, h)
    pil.convert("L").save(folder / "grey.pgm")
    out["grey.pgm"] = (w, h)
    pil.convert("1").save(folder / "mono.pbm")
    out["mono.pbm"] = (w, h)
    import pillow_heif

    pillow_heif.register_heif_opener()
    pil.save(folder / "phone.heic", quality=90)
    out["phone.heic"] = (w, h)
    (folder / "phone-no-extension").write_bytes((folder / "phone.heic").read_bytes())
    out["phone-no-extension"] = (w, h)
    # 16-bit RGB TIFF (PyAV writes rgb48) and 16-bit greyscale
    _still(folder / "scan16.tif", "tiff", "rgb48le", img)
    out["scan16.tif"] = (w, h)
    Image.fromarray(img[..., 0].astype(np.uint16) * 257).save(folder / "grey16.tif")
    out["grey16.tif"] = (w, h)
    frames = [Image.fromarray(np.roll(img, 10 * i, axis=1)) for i in range(4)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=100,
                   loop=0)
    frames[0].save(folder / "anim.webp", save_all=True, append_images=frames[1:], duration=100,
                   loop=0)
    out["anim.gif"] = out["anim.webp"] = (w, h)
    dng(folder / "camera.dng")
    out["camera.dng"] = (64, 48)
    _still(folder / "single.dpx", "dpx", "rgb48le", img)
    out["single.dpx"] = (w, h)
    (folder / "png-named.dat").write_bytes((folder / "frame.png").read_bytes())
    out["png-named.dat"] = (w, h)
    return out


def op_atom_clip(folder: Path, name: str = "CLIP07", *, frames: int = 25,
                 sound_channels: int = 2, timecode: str = "10:00:00:00") -> list[Path]:
    """An Avid-style MXF OP-Atom clip: one DNxHD picture file and one mono PCM file per
    sound channel (a 440/660 Hz tone), sharing their material package (written
    bit-exact, so FFmpeg gives every file of the clip the same package UMID)."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    fps = Fraction(25)
    paths = []
    for part in ["V1"] + [f"A{i + 1}" for i in range(sound_channels)]:
        path = folder / f"{name}.{part}.mxf"
        with av.open(str(path), "w", format="mxf_opatom",
                     container_options={"fflags": "+bitexact"}) as out:
            out.metadata["material_package_name"] = name
            if part == "V1":
                s = out.add_stream("dnxhd", rate=fps)
                s.width, s.height, s.pix_fmt, s.bit_rate = 1920, 1080, "yuv422p", 36_000_000
                s.metadata["timecode"] = timecode
                for i in range(frames):
                    f = av.VideoFrame.from_ndarray(_picture(i, 1920, 1080, n=frames), format="rgb24")
                    f.pts, f.time_base = i, 1 / fps
                    for p in s.encode(f):
                        out.mux(p)
            else:
                s = out.add_stream("pcm_s16le", rate=48000)
                s.layout = "mono"
                s.metadata["timecode"] = timecode
                hz = 440 * (1 + 0.5 * (int(part[1:]) - 1))
                t = np.arange(frames * 1920) / 48000
                tone = (0.3 * np.sin(2 * np.pi * hz * t) * 32767).astype(np.int16)
                for i in range(frames):
                    af = av.AudioFrame.from_ndarray(tone[None, i * 1920:(i + 1) * 1920],
                                                    format="s16", layout="mono")
                    af.sample_rate, af.pts, af.time_base = 48000, i * 1920, Fraction(1, 48000)
                    for p in s.encode(af):
                        out.mux(p)
            for p in s.encode():
                out.mux(p)
        paths.append(path)
    return paths
