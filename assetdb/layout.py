"""The data directory's layout: the one module that knows where files live under it.

    <data_dir>/assetdb.sqlite3                       default SQLite database
    <data_dir>/keyframes/<id//1000:04d>/<id>/<hash12>/s<seg>_f<frame>.jpg
    <data_dir>/faces/<id>/<seg>_<t_ms>_<k>.jpg       face crops of one asset
    <data_dir>/faces/sheets/person-<id>.jpg          contact sheets of a person
    <data_dir>/indexes/<slug>-<sha1[:8]>.faiss       FAISS index of one space (+ .json sidecar)
    <data_dir>/models/                               learned models (interest scorer ...)
    <data_dir>/proxies/<id//1000:04d>/<id>.mp4       browser proxy of a video

Paths stored in the database are relative to the data dir (POSIX separators), so a
data dir can be moved as a whole.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

KEYFRAMES = "keyframes"
FACES = "faces"
INDEXES = "indexes"
MODELS = "models"
PROXIES = "proxies"
SQLITE_FILE = "assetdb.sqlite3"


def sqlite_path(data_dir: Path) -> Path:
    return Path(data_dir) / SQLITE_FILE


def keyframes_root(data_dir: Path) -> Path:
    return Path(data_dir) / KEYFRAMES


def index_dir(data_dir: Path) -> Path:
    return Path(data_dir) / INDEXES


def model_dir(data_dir: Path) -> Path:
    return Path(data_dir) / MODELS


def asset_keyframes_dir(asset_id: int) -> str:
    """All keyframe folders of one asset (one per content version), relative."""
    return f"{KEYFRAMES}/{asset_id // 1000:04d}/{asset_id}"


def keyframe_dir(asset_id: int, content_hash: str) -> str:
    """The keyframes of one content version of an asset, relative to the data dir."""
    return f"{asset_keyframes_dir(asset_id)}/{content_hash[:12]}"


def keyframe_name(segment_index: int, frame: int) -> str:
    return f"s{segment_index:04d}_f{frame:07d}.jpg"


def face_crops_dir(asset_id: int) -> str:
    """The face crops of one asset, relative to the data dir."""
    return f"{FACES}/{asset_id}"


def face_crop(asset_id: int, segment_index: int, t_ms: int, k: int) -> str:
    return f"{face_crops_dir(asset_id)}/{segment_index}_{t_ms}_{k}.jpg"


def person_sheet(data_dir: Path, person_id: int) -> Path:
    return Path(data_dir) / FACES / "sheets" / f"person-{person_id}.jpg"


def faces_root(data_dir: Path) -> Path:
    return Path(data_dir) / FACES


def faiss_index(data_dir: Path, space: str) -> Path:
    """The index file of a vector space: a readable slug plus a short hash (slugs can collide)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", space).strip("._")[:80] or "index"
    digest = hashlib.sha1(space.encode()).hexdigest()[:8]
    return index_dir(data_dir) / f"{slug}-{digest}.faiss"


def faiss_sidecar(index_file: Path) -> Path:
    return index_file.with_suffix(".json")


def proxy_file(asset_id: int) -> str:
    """The browser proxy of a video, relative to the data dir."""
    return f"{PROXIES}/{asset_id // 1000:04d}/{asset_id}.mp4"


def remove_old_keyframes(data_dir: Path, asset_id: int, keep: str) -> None:
    """Delete the keyframe folders of an asset's older content versions (``keep`` is the
    current one, relative)."""
    root = Path(data_dir) / asset_keyframes_dir(asset_id)
    keep_name = Path(keep).name
    for old in root.iterdir() if root.is_dir() else []:
        if old.name != keep_name:
            shutil.rmtree(old, ignore_errors=True)


def remove_asset_files(data_dir: Path, asset_id: int) -> None:
    """Delete every file the data dir holds for one asset (keyframes, face crops, proxy)."""
    shutil.rmtree(Path(data_dir) / asset_keyframes_dir(asset_id), ignore_errors=True)
    shutil.rmtree(Path(data_dir) / face_crops_dir(asset_id), ignore_errors=True)
    (Path(data_dir) / proxy_file(asset_id)).unlink(missing_ok=True)
