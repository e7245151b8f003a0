"""An installed wheel (not only an editable checkout) carries its migrations."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_wheel_ships_migrations_and_upgrades(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    # the PEP 517 backend directly: no network, no pip needed in the venv
    build = subprocess.run(
        [sys.executable, "-c",
         f"from setuptools import build_meta as b; b.build_wheel({str(out)!r})"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = out.glob("assetdb-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    versions = sorted(p.name for p in (REPO / "alembic" / "versions").glob("*.py"))
    shipped = sorted(Path(n).name for n in names if n.startswith("assetdb/_migrations/versions/"))
    assert shipped == versions
    assert "assetdb/_migrations/env.py" in names
    # the installed copy (unpacked alone on sys.path) finds and runs them
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import assetdb.db as d; from assetdb.config import load_settings; "
        f"s = d.Store.open(load_settings(data_dir={str(tmp_path / 'data')!r}), upgrade_schema=True); "
        "print(d.migrations_dir()); print(d.current_revision(s.engine) == d.head_revision())"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                         timeout=120)
    assert run.returncode == 0, run.stderr
    where, ok = run.stdout.split()
    assert where.startswith(str(site)) and ok == "True"
