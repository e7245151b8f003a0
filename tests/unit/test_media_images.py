"""The one image loader (assetdb.media.images): what a viewer shows, as RGB uint8."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from assetdb.errors import MediaError
from assetdb.media.images import load_rgb


def _marked(w: int = 60, h: int = 40) -> np.ndarray:
    img = np.full((h, w, 3), 40, np.uint8)
    img[:10, :10] = (255, 0, 0)  # red top-left corner
    return img


@pytest.mark.parametrize(
    ("orientation", "corner"),
    [(1, "top-left"), (3, "bottom-right"), (6, "top-right"), (8, "bottom-left")],
)
def test_exif_orientation_is_applied(tmp_path, orientation, corner):
    path = tmp_path / f"o{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(_marked()).save(path, quality=95, exif=exif)
    rgb = load_rgb(path)
    rotated = orientation in (6, 8)
    assert rgb.dtype == np.uint8 and rgb.shape == ((60, 40, 3) if rotated else (40, 60, 3))
    red = (rgb[..., 0] > 150) & (rgb[..., 1] < 100)
    ys, xs = np.nonzero(red)
    h, w = rgb.shape[:2]
    top, left = ys.mean() < h / 2, xs.mean() < w / 2
    assert corner == f"{'top' if top else 'bottom'}-{'left' if left else 'right'}"


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(_marked()).convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    rgb = load_rgb(path)
    assert rgb.shape == (40, 60, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[3, 3]) == pytest.approx((255, 0, 0), abs=12)
    assert tuple(rgb[30, 50]) == pytest.approx((40, 40, 40), abs=12)


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    """Regression: converting 16-bit greyscale straight to RGB clipped every value above
    255 to white (mid-grey 32896 came out 255)."""
    a = np.zeros((8, 16), np.uint16)
    a[:, :8] = 32896  # 50 % grey
    a[:, 8:] = 65535
    path = tmp_path / "g16.png"
    Image.fromarray(a).save(path)
    assert Image.open(path).mode.startswith("I")
    rgb = load_rgb(path)
    assert rgb.shape == (8, 16, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (128, 128, 128) and tuple(rgb[0, 15]) == (255, 255, 255)


def test_16_bit_rgb_and_palette_png(tmp_path):
    import av

    # 48-bit RGB PNG, written by PyAV's PNG encoder
    rgb16 = np.zeros((4, 6, 3), np.uint16)
    rgb16[..., 0] = 65535
    rgb16[..., 2] = 32896
    path = tmp_path / "rgb48.png"
    frame = av.VideoFrame.from_ndarray(rgb16, format="rgb48le")
    with av.open(str(path), "w", format="image2") as out:
        s = out.add_stream("png", rate=1)
        s.width, s.height, s.pix_fmt = 6, 4, "rgb48be"
        for p in s.encode(frame):
            out.mux(p)
        for p in s.encode():
            out.mux(p)
    got = load_rgb(path)
    assert got.shape == (4, 6, 3) and tuple(got[0, 0]) == pytest.approx((255, 0, 128), abs=1)

    pal = Image.fromarray(_marked()).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    pal.info["transparency"] = 0
    ppath = tmp_path / "pal.png"
    pal.save(ppath, transparency=0)
    got = load_rgb(ppath)
    assert got.shape == (40, 60, 3) and got.dtype == np.uint8
    assert tuple(got[3, 3]) == (255, 0, 0)


@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty", "missing"])
def test_unreadable_image_is_one_line_media_error(tmp_path, kind):
    path = tmp_path / f"{kind}.jpg"
    if kind == "garbage":
        path.write_bytes(bytes(range(256)) * 4)
    elif kind == "truncated":
        Image.fromarray(_marked(600, 400)).save(path, quality=95)
        path.write_bytes(path.read_bytes()[:2000])
    elif kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(MediaError) as e:
        load_rgb(path)
    assert "\n" not in str(e.value) and path.name in str(e.value)
