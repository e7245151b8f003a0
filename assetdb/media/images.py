"""Still images (Pillow): the one loader of pictures from image files.

``load_rgb`` gives what a viewer shows: the EXIF orientation applied, RGB, uint8,
whatever the source mode (CMYK, palette, greyscale with or without alpha, 16-bit or
float greyscale scaled down to 8 bits rather than clipped). A file that cannot be
decoded (unknown format, truncated, corrupt, too large) raises ``MediaError`` with a
one-line reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from assetdb.errors import MediaError

# Pillow's own bomb guard (about 179 MP) is a warning below 2x; we refuse above this.
MAX_PIXELS = 400_000_000


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
