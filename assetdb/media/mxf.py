"""MXF OP-Atom: one clip in several files (the picture in one, each sound channel in
another, as Avid writes them), joined into one asset.

Files of one clip share their material package: they are joined by the material
package UMID that FFmpeg exposes (``material_package_umid``); a file without one is
joined by its material package name. Only files in the same folder are joined. The
picture file is the asset; its sound files are listed in its audio streams (with
``file``), the scanner does not take them as assets of their own, and
``assetdb.media.audio.decode_audio`` decodes the first of them when the picture file
has no sound. A sound-only clip without a picture file stays an audio asset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

OP_ATOM_UL = ".0d010201.10"  # SMPTE 390M operational pattern UL, as FFmpeg prints it
# the same UL in the header partition pack, read before any demuxer is opened: a scan
# of an archive of OP1a files costs one small read per file, not a demuxer each
OP_ATOM_BYTES = bytes.fromhex("0d01020110")
HEAD_BYTES = 512


def looks_op_atom(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return False
    if not head.startswith(bytes.fromhex("060e2b34")):
        return False
    prefix = bytes.fromhex("060e2b34040101")  # a UL of the labels registry; then a version
    i = head.find(prefix, 16)
    while i >= 0:
        if head[i + 8:i + 13] == OP_ATOM_BYTES:
            return True
        i = head.find(prefix, i + 1)
    return False


@dataclass(frozen=True)
class Package:
    path: Path
    umid: str | None
    name: str | None
    op_atom: bool
    has_video: bool
    has_audio: bool

    @property
    def key(self) -> str | None:
        return f"umid:{self.umid}" if self.umid else (f"name:{self.name}" if self.name else None)


_FOLDERS: dict[tuple[str, int], list[Package]] = {}


def read_package(path: Path) -> Package | None:
    """The material package of an MXF file (header only); None when it is not MXF."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            if "mxf" not in c.format.name:
                return None
            meta = dict(c.metadata)
            return Package(
                path=path,
                umid=meta.get("material_package_umid"),
                name=meta.get("material_package_name"),
                op_atom=OP_ATOM_UL in meta.get("operational_pattern_ul", ""),
                has_video=bool(c.streams.video),
                has_audio=bool(c.streams.audio),
            )
    except Exception:  # noqa: BLE001 - an unreadable file is the probe's to report
        return None


def folder_packages(folder: Path) -> list[Package]:
    """OP-Atom packages of the ``.mxf`` files in a folder (cached per folder mtime)."""
    try:
        key = (str(folder), folder.stat().st_mtime_ns)
    except OSError:
        return []
    if key not in _FOLDERS:
        found = []
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith(".mxf") and looks_op_atom(folder / name):
                pkg = read_package(folder / name)
                if pkg is not None and pkg.op_atom and pkg.key:
                    found.append(pkg)
        _FOLDERS[key] = found
    return _FOLDERS[key]


def _package_of(path: Path) -> Package | None:
    return next((p for p in folder_packages(path.parent) if p.path == path), None)


def joined_sound_files(path: Path) -> list[Path]:
    """The sound files of an OP-Atom picture file's clip (in name order)."""
    if path.suffix.lower() != ".mxf":
        return []
    me = _package_of(path)
    if me is None or not me.has_video:
        return []
    return [p.path for p in folder_packages(path.parent)
            if p.key == me.key and p.has_audio and not p.has_video and p.path != path]


def is_joined_sound(path: Path) -> bool:
    """An OP-Atom sound file whose clip has a picture file beside it."""
    if path.suffix.lower() != ".mxf":
        return False
    me = _package_of(path)
    if me is None or me.has_video:
        return False
    return any(p.key == me.key and p.has_video for p in folder_packages(path.parent))
