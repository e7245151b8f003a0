"""The web app ships inside the wheel: `assetdb serve` from an installed package serves
its pages without the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_wheel_ships_the_web_app(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-c",
         f"from setuptools import build_meta as b; b.build_wheel({str(tmp_path)!r})"],
        capture_output=True, text=True, timeout=300, cwd=REPO, check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("assetdb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    static = REPO / "cli" / "web" / "static"
    want = {f"cli/web/static/{p.name}" for p in static.iterdir() if p.is_file()}
    assert want and want <= names
    assert {"cli/serve.py", "cli/web/app.py", "cli/web/api.py", "cli/web/client.py",
            "indexer/extractors/proxy.py", "assetdb/_migrations/versions/0008_proxy.py"} <= names
