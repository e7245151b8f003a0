"""Multi-track audio: the transcript is taken from the track that holds speech, not
blindly from track 1 (a MOV with a tone on track 1 and JFK's speech on track 2)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.model, pytest.mark.slow]


def _two_track_mov(path: Path, speech: Path) -> Path:
    import av

    from assetdb.media.audio import decode_audio

    voice = decode_audio(speech, 48000).samples
    n = len(voice)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)).astype(np.float32)
    fps = Fraction(25)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        tracks = [out.add_stream("pcm_s16le", rate=48000) for _ in range(2)]
        for a in tracks:
            a.layout = "mono"
        for i in range(int(n / 48000 * 25)):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")
            f.pts, f.time_base = i, 1 / fps
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        for a, samples in zip(tracks, (tone, voice), strict=True):
            pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
            for i in range(0, n, 4800):
                fr = av.AudioFrame.from_ndarray(pcm[None, i:i + 4800], format="s16", layout="mono")
                fr.sample_rate, fr.pts, fr.time_base = 48000, i, Fraction(1, 48000)
                for p in a.encode(fr):
                    out.mux(p)
            for p in a.encode():
                out.mux(p)
    return path


def test_transcript_comes_from_the_speech_track(tmp_path: Path) -> None:
    from tests.conftest import require_shared_data

    jfk = require_shared_data() / "media" / "audio" / "jfk.flac"
    from indexer.extractors.transcribe import Transcriber

    mov = _two_track_mov(tmp_path / "two tracks.mov", jfk)
    t = Transcriber()
    first_only = t.transcribe_path(mov, 1)
    assert first_only.status == "no_speech"  # track 1 is a tone
    result = t.transcribe_path(mov, 2)
    assert result.status == "ok" and result.track == 1
    text = " ".join(ln.text for ln in result.lines).lower()
    assert "country" in text, text
