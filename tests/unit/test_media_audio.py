"""The one audio decoder (assetdb.media.audio) on generated tones in several containers."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from assetdb.errors import MediaError
from assetdb.media.audio import STATUS_OK, decode_audio

FREQ_HZ = 440.0


def write_tone(path: Path, codec: str, *, rate: int = 44100, seconds: float = 2.0,
               layout: str = "stereo", video_start_ms: int | None = None) -> Path:
    """A sine tone (right channel at half level); with ``video_start_ms``, also a video
    stream whose first frame is at that time (the audio starts at 0)."""
    import av

    with av.open(str(path), "w") as out:
        vs = None
        if video_start_ms is not None:
            vs = out.add_stream("mpeg4", rate=25)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
            vs.time_base = vs.codec_context.time_base = Fraction(1, 1000)
        s = out.add_stream(codec, rate=rate)
        s.layout = layout
        fmt = s.codec_context.codec.audio_formats[0].name
        n = int(seconds * rate)
        t = np.arange(n) / rate
        tone = 0.4 * np.sin(2 * np.pi * FREQ_HZ * t)
        chans = np.stack([tone, tone * 0.5][: 2 if layout == "stereo" else 1])
        step = s.codec_context.frame_size or 1024
        for i in range(0, n, step):
            chunk = chans[:, i : i + step].astype(np.float32)
            if fmt.startswith("s16"):
                chunk = (chunk * 32767).astype(np.int16)
            elif fmt.startswith("s32"):
                chunk = (chunk * 2**31 - 1).astype(np.int32)
            if not fmt.endswith("p"):
                chunk = chunk.T.reshape(1, -1)
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=fmt,
                                            layout=layout)
            fr.sample_rate, fr.pts = rate, i
            for p in s.encode(fr):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
        if vs is not None:
            for k in range(int(seconds * 25) - 1):
                f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 128, np.uint8), "rgb24")
                f.pts, f.time_base = video_start_ms + 40 * k, Fraction(1, 1000)
                for p in vs.encode(f):
                    out.mux(p)
            for p in vs.encode():
                out.mux(p)
    return path


def _peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.argmax(spec) * sr / y.size)


@pytest.mark.parametrize(
    ("name", "codec", "rate"),
    [("t.wav", "pcm_s16le", 44100), ("t.flac", "flac", 96000), ("t.mp3", "libmp3lame", 44100),
     ("t.m4a", "aac", 48000), ("t.ogg", "libopus", 48000), ("t.mkv", "flac", 22050)],
)
def test_tone_in_any_container(tmp_path, name, codec, rate):
    a = decode_audio(write_tone(tmp_path / name, codec, rate=rate))
    assert a.status == STATUS_OK and a.reason is None and a.decode_errors == 0
    assert a.sample_rate == 16_000 and a.samples.dtype == np.float32 and a.samples.ndim == 1
    assert a.duration_s == pytest.approx(2.0, abs=0.1)
    assert a.channels == 2 and a.source_rate == rate
    body = a.samples[4000:28000]
    assert _peak_hz(body, 16_000) == pytest.approx(FREQ_HZ, abs=2.0)
    # swresample's downmix: (left + right) / sqrt(2)
    assert np.abs(body).max() == pytest.approx(0.6 / np.sqrt(2), abs=0.03)


def test_channels_kept_on_request(tmp_path):
    path = write_tone(tmp_path / "s.flac", "flac")
    a = decode_audio(path, 8000, layout=None)
    assert a.samples.shape[0] == 2 and a.samples.shape[1] == pytest.approx(16000, abs=200)
    assert a.duration_s == pytest.approx(2.0, abs=0.05)
    left, right = np.abs(a.samples[:, 2000:14000]).max(axis=1)
    assert left == pytest.approx(0.4, abs=0.02) and right == pytest.approx(0.2, abs=0.02)
    mono = decode_audio(write_tone(tmp_path / "m.wav", "pcm_s16le", layout="mono"), 8000,
                        layout="stereo")
    assert mono.samples.shape[0] == 2 and mono.channels == 1


def test_a_window_is_the_same_samples_as_the_whole(tmp_path):
    """Rendering decodes a window after a seek: the same samples as the whole decode
    (to within the sub-sample phase of a resampler started elsewhere), silence where
    the track ends."""
    # MOV: sample-exact audio timestamps (Matroska rounds them to the millisecond)
    path = write_tone(tmp_path / "w.mov", "pcm_s16le", seconds=6.0, video_start_ms=200)
    whole = decode_audio(path, 16000, layout="stereo")
    win = decode_audio(path, 16000, layout="stereo", start_s=3.25, end_s=4.0)
    assert win.samples.shape == (2, 12000) and win.status == STATUS_OK
    assert win.origin_s == pytest.approx(whole.origin_s + 3.25)
    def err(lag: int) -> float:
        ref = whole.samples[:, 52000 + lag : 64000 + lag]
        return float(np.abs(win.samples - ref).max())

    assert min(range(-3, 4), key=err) == 0 and err(0) < 0.1  # 1 sample off: ~0.35
    tail = decode_audio(path, 16000, start_s=5.5, end_s=6.5)
    assert tail.samples.shape == (16000,) and not tail.samples[8000:].any()


def test_sample_zero_is_the_first_video_frame(tmp_path):
    path = write_tone(tmp_path / "v.mkv", "flac", video_start_ms=500)
    a = decode_audio(path)
    assert a.origin_s == pytest.approx(0.5)
    # audio from container time 0 to 2 s; asset time 0 is container time 0.5
    assert a.duration_s == pytest.approx(1.5, abs=0.05)


def test_unreadable_file_is_one_line_media_error(tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(MediaError) as e:
        decode_audio(bad)
    assert "\n" not in str(e.value) and "bad.mp3" in str(e.value)
    with pytest.raises(MediaError):
        decode_audio(tmp_path / "missing.wav")


def test_damaged_packets_are_skipped_and_counted(tmp_path):
    """Noise over the middle of an AAC track: the packets there fail, the rest decodes,
    the damage is counted and the track is partial, not failed."""
    src = write_tone(tmp_path / "t.m4a", "aac", seconds=4.0)
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(0)
    mid = len(data) // 2
    data[mid : mid + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    bad = tmp_path / "damaged.m4a"
    bad.write_bytes(bytes(data))
    a = decode_audio(bad)
    assert a.usable and a.duration_s > 3.0 and a.decode_errors > 0
    assert a.status == "partial" and f"{a.decode_errors} packets failed to decode" in a.reason
