"""File-system paths of assets. Names that are not valid UTF-8 are shown with \\xNN
escapes (the `path` column) and kept as raw bytes (`path_bytes`) to open the file."""

from __future__ import annotations

import os
from pathlib import Path


def fs_path(path_text: str, path_bytes: bytes | None) -> Path:
    if path_bytes:
        return Path(os.fsdecode(path_bytes))
    return Path(path_text)


def display_path(p: Path) -> str:
    return os.fsencode(p).decode("utf-8", errors="backslashreplace")
