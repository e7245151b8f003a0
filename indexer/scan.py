"""Find the media files under the paths given to an ingest."""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assetdb.media.mxf import is_joined_sound
from assetdb.media.probe import is_candidate
from assetdb.media.sequences import Sequence, group_sequences


def normalise(p: Path | str) -> Path:
    """An absolute path with ``.`` and ``..`` removed, symlinks kept (what is stored)."""
    return Path(os.path.abspath(os.fspath(p)))


def is_under(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


@dataclass
class ScanResult:
    files: list[Path] = field(default_factory=list)  # image sequences as their pattern path
    sequences: list[Sequence] = field(default_factory=list)
    skipped: int = 0  # not media
    errors: list[tuple[Path, str]] = field(default_factory=list)  # unreadable dirs, loops


def scan(roots: Iterable[Path | str]) -> ScanResult:
    """Media files under the roots (files or folders), following symlinks once.
    Frame-numbered images found in a folder come back as one image sequence, its
    pattern path in place of its frames (``assetdb.media.sequences``).
    Paths come back normalised (see ``normalise``)."""
    out = ScanResult()
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()

    def add_file(p: Path, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if key in seen_files:
            return
        seen_files.add(key)
        if st.st_size == 0 or is_candidate(p):
            out.files.append(p)
        else:
            out.skipped += 1

    def walk(d: Path) -> None:
        try:
            st = d.stat()
        except OSError as exc:
            out.errors.append((d, f"cannot read folder: {exc.strerror}"))
            return
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            if d.is_symlink():
                out.errors.append((d, "symlink loop skipped"))
            return
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            out.errors.append((d, f"cannot list folder: {exc.strerror}"))
            return
        for e in entries:
            p = Path(e.path)
            try:
                st = p.stat()  # follows symlinks
            except OSError as exc:
                out.errors.append((p, f"cannot stat: {exc.strerror or exc}"))
                continue
            if stat_mod.S_ISDIR(st.st_mode):
                walk(p)
            elif stat_mod.S_ISREG(st.st_mode):
                if e.name.startswith("."):
                    out.skipped += 1
                    continue
                add_file(p, st)

    for root in roots:
        root = normalise(root)
        try:
            st = root.stat()
        except OSError as exc:
            out.errors.append((root, f"cannot read: {exc.strerror}"))
            continue
        if stat_mod.S_ISDIR(st.st_mode):
            walk(root)
        else:
            add_file(root, st)
    seqs, singles = group_sequences(out.files)
    # the sound files of an MXF OP-Atom clip belong to its picture file's asset
    singles = [p for p in singles if not is_joined_sound(p)]
    out.sequences = seqs
    out.files = sorted(singles + [s.path for s in seqs])
    return out
