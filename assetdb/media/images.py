"""Still images: the one loader of pictures from image files.

``load_rgb`` gives what a viewer shows: the EXIF orientation applied, RGB, uint8,
whatever the source mode (CMYK, palette, greyscale with or without alpha, 16-bit or
float greyscale scaled down to 8 bits rather than clipped). A file that cannot be
decoded (unknown format, truncated, corrupt, too large) raises ``MediaError`` with a
one-line reason.

Formats: what Pillow reads (JPEG, PNG, TIFF incl. 16-bit, BMP, GIF/WebP (first frame),
netpbm ``.pnm .pbm .pgm .ppm``, JPEG 2000), HEIC/HEIF through pillow-heif, camera RAW
(DNG, CR2, CR3 where LibRaw supports it, NEF, ARW, RAF, ORF, RW2, ...) through rawpy,
developed with the camera's white balance at half size (enough for keyframes and the
models), and single DPX/EXR frames through FFmpeg (EXR with the sRGB transfer applied).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from assetdb.errors import MediaError

# Pillow's own bomb guard (about 179 MP) is a warning below 2x; we refuse above this.
MAX_PIXELS = 400_000_000
RAW_EXTS = {
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf",
    ".rw2", ".pef", ".srw", ".3fr", ".iiq", ".erf", ".kdc", ".mos", ".mrw", ".x3f",
}
HEIF_EXTS = {".heic", ".heif", ".hif"}
AV_STILL_EXTS = {".dpx", ".exr"}  # read by FFmpeg, not Pillow
_plugins_registered = False


def register_plugins() -> None:
    """Teach Pillow HEIC/HEIF (pillow-heif), once per process."""
    global _plugins_registered
    if _plugins_registered:
        return
    _plugins_registered = True
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # optional: HEIC files then fail with Pillow's own reason
        return
    register_heif_opener()


def raw_reason(exc: Exception) -> str:
    """LibRaw's message (rawpy gives it as a bytes repr) as one line."""
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    if isinstance(exc.args[0] if exc.args else None, bytes):
        text = exc.args[0].decode("utf-8", "replace")
    return text.splitlines()[0][:300] if text else type(exc).__name__


def load_raw(path: Path | str) -> np.ndarray:
    """A camera RAW developed by LibRaw (rawpy): camera white balance, sRGB, 8 bits,
    half size, its orientation applied."""
    try:
        import rawpy
    except ImportError as exc:
        raise MediaError("camera RAW needs the rawpy package") from exc
    try:
        with rawpy.imread(str(path)) as raw:
            rgb = raw.postprocess(use_camera_wb=True, output_bps=8, half_size=True)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        reason = raw_reason(exc)
        raise MediaError(f"cannot read camera RAW {path}: {reason}") from exc
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def load_av_still(path: Path | str) -> np.ndarray:
    """A single DPX or EXR frame decoded by FFmpeg (EXR linear light -> sRGB)."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            s = c.streams.video[0]
            if str(path).lower().endswith(".exr"):
                s.codec_context.options = {"apply_trc": "iec61966_2_1"}
            frame = next(c.decode(s))
            return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
    except (StopIteration, IndexError):
        raise MediaError(f"cannot read image {path}: no picture") from None
    except Exception as exc:  # PyAV raises many types for bad input
        raise MediaError(f"cannot read image {path}: {str(exc).splitlines()[0][:300]}") from exc


def _to_rgb(im: Any) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im).astype(np.float64)
        if mode.startswith("I;16"):
            a = a / 257.0
        elif mode == "I":
            hi = float(a.max()) if a.size else 0.0
            a = a / 257.0 if hi > 255 else a  # 16-bit data read as 32-bit (TIFF, PNG)
        else:  # float: 0..1 by convention, else as is
            hi = float(a.max()) if a.size else 0.0
            a = a * 255.0 if hi <= 1.0 else a
        g = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(g[..., None], 3, axis=2))
    if mode != "RGB":
        if mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def load_rgb(path: Path | str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of the image at ``path``, EXIF orientation applied (the first
    frame of a multi-frame file). Raises MediaError."""
    from PIL import Image, ImageOps

    suffix = Path(path).suffix.lower()
    if suffix in RAW_EXTS:
        return load_raw(path)
    if suffix in AV_STILL_EXTS:
        return load_av_still(path)
    register_plugins()
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise MediaError(f"image too large: {w}x{h} pixels")
            im.load()
            return _to_rgb(ImageOps.exif_transpose(im))
    except MediaError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise MediaError(f"cannot read image {path}: {reason}") from exc
