"""Content recognition, probing and scanning of awkward inputs (generated files)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from assetdb.errors import MediaError
from assetdb.media.probe import content_hash, probe
from indexer.scan import scan
from tests.mediagen import make_tone, make_video


def test_video_by_content_not_extension(tmp_path: Path) -> None:
    v = make_video(tmp_path / "clip.mp4", shots_s=[0.6, 0.6])
    renamed = tmp_path / "no_extension_here"
    shutil.copy(v, renamed)
    info = probe(renamed)
    assert info.kind == "video"
    assert info.has_audio
    assert scan([tmp_path]).files == sorted([v, renamed])


def test_audio_and_rotation(tmp_path: Path) -> None:
    a = probe(make_tone(tmp_path / "t.wav", seconds=1.5, sr=8000))
    assert a.kind == "audio" and abs(a.duration_s - 1.5) < 0.01
    assert a.audio_streams[0]["sample_rate"] == 8000
    r = probe(make_video(tmp_path / "r.mp4", shots_s=[0.5], rotate=90, audio=False))
    assert r.rotation == 90 and (r.width, r.height) == (96, 160)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [("empty.mp4", b"", "empty file"),
     ("garbage.mp4", b"this is not a video at all" * 100, "not a readable media file")],
)
def test_bad_files_have_one_line_reasons(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(MediaError) as e:
        probe(p)
    assert reason in str(e.value) and "\n" not in str(e.value)


def test_scan_skips_non_media_and_survives_loops(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "loop").symlink_to(tmp_path, target_is_directory=True)
    v = make_video(sub / "a.mp4", shots_s=[0.4], audio=False)
    odd = tmp_path / os.fsdecode(b"bad\xffname\nwith newline.mp4")
    shutil.copy(v, odd)
    r = scan([tmp_path])
    assert sorted(r.files) == sorted([v, odd])
    assert r.skipped == 1


def test_hash_sampled_for_large_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import assetdb.media.probe as pr

    p = tmp_path / "big.bin"
    p.write_bytes(os.urandom(300_000))
    full = content_hash(p)
    monkeypatch.setattr(pr, "FULL_HASH_MAX_BYTES", 100_000)
    monkeypatch.setattr(pr, "HASH_CHUNK_BYTES", 10_000)
    sampled = pr.content_hash(p)
    assert sampled != full
    data = bytearray(p.read_bytes())
    data[150_000] ^= 0xFF  # inside the sampled middle chunk
    p.write_bytes(bytes(data))
    assert pr.content_hash(p) != sampled
