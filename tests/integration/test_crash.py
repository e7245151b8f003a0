"""A crash (kill -9) or Ctrl-C in the middle of an ingest leaves a consistent store,
and the next run completes with no duplicate or half-written rows."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from assetdb.schema import Asset, Keyframe, Segment, StageRun
from tests.conftest import REPO

pytestmark = pytest.mark.slow

CLIPS = ["chaplin.mp4", "fades.mp4", "goldeneye-vfr-drop3.mp4", "cup.mp4"]


def _library(tmp_path: Path, media_dir: Path, copies: int = 2) -> Path:
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(copies):
        for c in CLIPS:
            shutil.copy(media_dir / "video" / c, lib / f"{i}_{c}")
            # distinct content per copy, so no copy is taken for a rename of another
            with (lib / f"{i}_{c}").open("ab") as fh:
                fh.write(b"\0" * (i + 1))
    return lib


def _cli(data_dir: Path, db_url: str, *args: str) -> list[str]:
    # the catalogue stage only: the guarantees are the writer's, the same for every stage
    return [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), "--database-url",
            db_url, *args, "--only", "catalogue"]


def _counts(url: str) -> dict[str, int]:
    eng = create_engine(url)
    with Session(eng) as s:
        out = {
            "done": s.execute(select(func.count()).select_from(StageRun).where(
                StageRun.state == "done")).scalar_one(),
            "indexed": s.execute(select(func.count()).select_from(Asset).where(
                Asset.state == "indexed")).scalar_one(),
            "indexed_without_segments": s.execute(select(func.count()).select_from(Asset).where(
                Asset.state == "indexed", ~Asset.segments.any())).scalar_one(),
            "segments_of_unindexed": s.execute(select(func.count()).select_from(Segment).join(Asset).where(
                Asset.state != "indexed")).scalar_one(),
            "segments": s.execute(select(func.count()).select_from(Segment)).scalar_one(),
            "keyframes": s.execute(select(func.count()).select_from(Keyframe)).scalar_one(),
            "dup_segments": s.execute(text(
                "select count(*) from (select asset_id, \"index\" from segments "
                "group by asset_id, \"index\" having count(*) > 1) d")).scalar_one(),
        }
    eng.dispose()
    return out


def _wait_for_progress(url: str, proc: subprocess.Popen, at_least: int, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ingest ended before it could be interrupted: {proc.stderr.read()}")
        try:
            if _counts(url)["done"] >= at_least:
                return
        except Exception:  # noqa: BLE001 - the schema may not exist yet
            pass
        time.sleep(0.2)
    pytest.fail("ingest made no progress")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_ingest_resumes(tmp_path: Path, media_dir: Path, db_url: str, sig: int) -> None:
    lib = _library(tmp_path, media_dir)
    total = len(list(lib.iterdir()))
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(_cli(data, db_url, "ingest", str(lib), "--workers", "2"),
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    _wait_for_progress(db_url, proc, at_least=3)
    if sig == signal.SIGKILL:
        os.killpg(proc.pid, signal.SIGKILL)  # the writer and its workers, mid-run
    else:
        os.kill(proc.pid, signal.SIGINT)
    rc = proc.wait(timeout=60)
    if sig == signal.SIGINT:
        assert rc == 130, proc.stderr.read()
        os.killpg(proc.pid, signal.SIGKILL) if _alive(proc.pid) else None
    mid = _counts(db_url)
    assert 0 < mid["indexed"] < total
    assert mid["indexed_without_segments"] == 0
    assert mid["segments_of_unindexed"] == 0
    assert mid["dup_segments"] == 0

    done = subprocess.run(_cli(data, db_url, "ingest", str(lib), "--workers", "2", "--json"),
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    end = _counts(db_url)
    assert end["indexed"] == total
    assert end["indexed_without_segments"] == 0 and end["dup_segments"] == 0

    # the same library ingested in one go gives the same rows
    fresh_data = tmp_path / "fresh"
    fresh_url = f"sqlite:///{fresh_data / 'assetdb.sqlite3'}"
    ref = subprocess.run(_cli(fresh_data, fresh_url, "ingest", str(lib), "--workers", "2"),
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr
    expected = _counts(fresh_url)
    assert (end["segments"], end["keyframes"]) == (expected["segments"], expected["keyframes"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
