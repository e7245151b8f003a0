"""assetdb.media is the only code that opens media files for reading."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OPENERS = re.compile(
    r"\bav\.open\(|\bImage\.open\(|\bcv2\.imread\(|\bcv2\.VideoCapture\(|\blibrosa\.load\(|"
    r"\bsoundfile\.read\(|\bsf\.read\("
)
WRITES = re.compile(r"""mode=["']w|,\s*["']w["']""")  # writing a reel is not reading media
PENDING: set[str] = set()  # every opener is in assetdb/media now


def test_only_the_media_layer_opens_media():
    offenders = []
    for top in ("assetdb", "indexer", "cli"):
        for p in sorted((REPO / top).rglob("*.py")):
            rel = p.relative_to(REPO).as_posix()
            if rel.startswith("assetdb/media/") or rel in PENDING:
                continue
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if OPENERS.search(line) and not WRITES.search(line):
                    offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_importing_the_media_layer_is_light():
    code = (
        "import sys, assetdb, assetdb.media, assetdb.media.frames, assetdb.media.audio, "
        "assetdb.media.images, assetdb.media.probe, assetdb.media.grid, assetdb.media.times;"
        "print(sorted(m for m in ('av', 'PIL', 'cv2', 'torch', 'faiss', 'ray') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert out.stdout.strip() == "[]"
