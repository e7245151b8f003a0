"""The discovery file: how `assetdb search` finds a server running on the same store.

``<data dir>/server.json`` (mode 0600, it may hold the token) names the URL, the
process id and a digest of the database URL; a client uses the server only when the
process is alive and the digest matches its own database URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

FILE_NAME = "server.json"


def database_digest(database_url: str) -> str:
    return hashlib.sha256(database_url.encode()).hexdigest()[:32]


def discovery_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / FILE_NAME


def write(data_dir: str | Path, *, url: str, database_url: str, token: str | None) -> Path:
    path = discovery_path(data_dir)
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    payload = {"url": url, "pid": os.getpid(), "database": database_digest(database_url),
               "token": token}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh)
    os.replace(tmp, path)
    return path


def remove(data_dir: str | Path) -> None:
    """Remove the file if it is this process's."""
    path = discovery_path(data_dir)
    info = read(data_dir, check_alive=False)
    if info is not None and info.get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read(data_dir: str | Path, *, database_url: str | None = None,
         check_alive: bool = True) -> dict[str, Any] | None:
    """The running server's entry for this store, or None."""
    try:
        info = json.loads(discovery_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("url"), str):
        return None
    if check_alive and not (isinstance(info.get("pid"), int) and _alive(info["pid"])):
        return None
    if database_url is not None and info.get("database") != database_digest(database_url):
        return None
    return info
