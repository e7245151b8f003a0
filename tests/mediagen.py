"""Generated media for tests (PyAV): colour shots with known cut times, sine tones."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40), (40, 200, 200)]


def make_video(
    path: Path,
    *,
    shots_s: list[float] = (1.0, 1.0, 1.0),  # type: ignore[assignment]
    fps: Fraction = Fraction(25),
    size: tuple[int, int] = (160, 96),
    audio: bool = True,
    codec: str = "mpeg4",
    rotate: int | None = None,
) -> Path:
    """Shots of different colours with moving texture; cut times are the cumulative sums."""
    import av

    rng = np.random.default_rng(0)
    w, h = size
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if rotate is not None:
            vs.set_display_rotation(rotate)
        a_s = None
        if audio:
            a_s = out.add_stream("aac", rate=48000)
            a_s.layout = "stereo"
        n = 0
        for si, dur in enumerate(shots_s):
            base = np.array(COLOURS[si % len(COLOURS)], dtype=np.float32)
            tex = rng.integers(0, 60, size=(h, w, 1)).astype(np.float32)
            for _ in range(int(round(dur * float(fps)))):
                shift = np.roll(tex, n * 2, axis=1)
                img = np.clip(base * 0.8 + shift, 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = n
                for p in vs.encode(frame):
                    out.mux(p)
                n += 1
        for p in vs.encode():
            out.mux(p)
        if a_s is not None:
            total = n / float(fps)
            sr = 48000
            t = np.arange(int(total * sr)) / sr
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            stereo = np.stack([tone, tone])
            step = 1024
            for i in range(0, stereo.shape[1], step):
                chunk = np.ascontiguousarray(stereo[:, i : i + step])
                fr = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                fr.sample_rate = sr
                fr.pts = i
                for p in a_s.encode(fr):
                    out.mux(p)
            for p in a_s.encode():
                out.mux(p)
    return path


def make_tone(path: Path, seconds: float = 2.0, sr: int = 16000, channels: int = 1) -> Path:
    import av

    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w") as out:
        s = out.add_stream("pcm_s16le", rate=sr)
        s.layout = layout
        t = np.arange(int(seconds * sr)) / sr
        x = (0.3 * np.sin(2 * np.pi * 330 * t) * 32767).astype(np.int16)
        data = np.tile(x, (channels, 1)).T.reshape(1, -1) if channels > 1 else x.reshape(1, -1)
        fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="s16", layout=layout)
        fr.sample_rate = sr
        for p in s.encode(fr):
            out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path
