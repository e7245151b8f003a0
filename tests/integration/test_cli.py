"""The command line as a user meets it: one-line errors and exit codes, output on a
terminal (a real pty) and piped, argument checks before anything heavy is loaded.

One real catalogue-only ingest (through `assetdb ingest`) of a real clip under an
awkward name, with a sidecar text, feeds the module."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.slow

CLIP = "short_hamilton_clip.mp4"  # 29.97 fps: its rate is stored as 2997/100
AWKWARD = "my clip \"final\" [v2] 'ok'.mp4"
# full-text search marks the matched word: the snippet reads "the small [dog]. ..."
SIDECAR_TEXT = "the small dog.\tTabbed\nand a second line"


class Cli:
    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.url = url
        self.base = ["--data-dir", str(self.data_dir), "--database-url", url]

    def run(self, *args: str, code: int = 0, base: bool = True) -> Any:
        res = CliRunner().invoke(app(), [*(self.base if base else []), *args])
        assert res.exit_code == code, (args, res.exit_code, res.output, res.exception)
        return res

    def pty(self, *args: str, columns: int = 200) -> str:
        """The command's stdout as a person sees it: a real terminal (pty)."""
        return run_in_pty([*self.base, *args], columns=columns)


def app():
    from cli.main import app

    return app


def _env(columns: int | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "ASSETDB_CONFIG": "/nonexistent/assetdb-config.toml"}
    if columns:
        env["COLUMNS"] = str(columns)
        env["LINES"] = "50"
    return env


def run_in_pty(args: list[str], *, columns: int = 200, timeout_s: float = 120) -> str:
    main, sub = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", *args], stdout=sub,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=REPO,
                            env=_env(columns))
    os.close(sub)
    out = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(main)
    proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read().decode()
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode()).replace("\r\n", "\n")


@pytest.fixture(scope="module")
def cli(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    from tests.conftest import make_db_url

    src = SHARED_DATA / "media" / "video" / CLIP
    if not src.is_file():
        pytest.skip(f"shared media missing: {src}")
    root = tmp_path_factory.mktemp("cli")
    media = root / "media"
    media.mkdir()
    shutil.copy(src, media / AWKWARD)
    (media / AWKWARD).with_suffix(".txt").write_text(SIDECAR_TEXT)
    (root / "data").mkdir()
    url, pg = make_db_url(db_backend, root / "data")
    c = Cli(root, url)
    res = c.run("ingest", str(media), "--only", "catalogue", "--json")
    assert json.loads(res.stdout)["indexed"] == 1
    yield c
    if pg is not None:
        pg.close()


# ---------------------------------------------------------------- 1: user text is not markup


def test_bracketed_text_survives_on_a_terminal(cli: Cli) -> None:
    listed = cli.pty("assets", "list")
    assert AWKWARD in listed
    hits = cli.pty("search", "dog")
    assert "[dog]." in hits  # the snippet's mark on the matched word


# ---------------------------------------------------------------- piped and machine output


def test_piped_search_is_one_line_per_hit_with_escaped_tabs(cli: Cli) -> None:
    hits = json.loads(cli.run("search", "dog", "--json").stdout)
    assert hits and hits[0]["path"].endswith(AWKWARD) and "\t" in hits[0]["snippet"]
    out = cli.run("search", "dog").stdout
    lines = out.splitlines()
    header = lines[0].split("\t")
    assert header[:3] == ["score", "path", "kind"] and len(lines) == 1 + len(hits), out
    for line in lines[1:]:
        row = line.split("\t")
        assert len(row) == len(header)
        assert "[dog].\\tTabbed\\nand a second" in row[header.index("snippet")]


def test_tables_have_headers_and_readable_values_on_a_terminal(cli: Cli) -> None:
    status = cli.pty("status")
    assert "field" in status.splitlines()[0] and "value" in status.splitlines()[0]
    shown = cli.pty("assets", "show", AWKWARD)
    assert "29.97 fps" in shown and "2997/100" not in shown
    assert "MP4" in shown and "mov,mp4" not in shown
    assert re.search(r"duration +│ 00:00:\d\d\.\d{3}", shown)  # a time, not seconds
    seg_header = next(line for line in shown.splitlines() if line.startswith("index"))
    assert "in" in seg_header.split() and "out" in seg_header.split()
    d = json.loads(cli.run("assets", "show", AWKWARD, "--json").stdout)
    assert d["frame_rate"] == "2997/100" and d["container"].startswith("mov,mp4")


def test_verbose_logging_has_no_alembic_plugin_lines(cli: Cli) -> None:
    res = cli.run("-v", "status")
    assert "alembic" not in res.stderr


# ---------------------------------------------------------------- 3: one line, not a traceback


@pytest.mark.parametrize("url", ["foo://bar", "not a url", "mysql://user@localhost/db",
                                 "postgresql://postgres@127.0.0.1:1/nothing"])
def test_bad_database_url_is_one_line(tmp_path: Path, url: str) -> None:
    res = CliRunner().invoke(app(), ["--data-dir", str(tmp_path), "--database-url", url,
                                     "status"])
    assert res.exit_code == 1, (res.output, res.exception)
    assert res.stderr.startswith("error: ") and len(res.stderr.splitlines()) == 1, res.stderr
    assert "Traceback" not in res.output


def test_unusable_data_dir_is_one_line() -> None:
    res = CliRunner().invoke(app(), ["--data-dir", "/proc/nope", "status"])
    assert res.exit_code == 1
    assert res.stderr.startswith("error: ") and "/proc/nope" in res.stderr
    assert len(res.stderr.splitlines()) == 1


def test_sqlite_url_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/dir/x.db"
    res = CliRunner().invoke(app(), ["--data-dir", str(tmp_path / "d"), "--database-url", url,
                                     "status"])
    assert res.exit_code == 1 and res.stderr.startswith("error: ")
    assert len(res.stderr.splitlines()) == 1
    assert not (tmp_path / "no").exists()


def test_debug_shows_the_traceback_for_every_command(cli: Cli) -> None:
    """--debug re-raises library errors (a traceback) in search, persons, transcript..."""
    from assetdb.errors import AssetdbError

    for args in (["search", "--like-shot", "999999"], ["persons", "show", "nobody"],
                 ["transcript", "99999"], ["interest", "show", "99999"], ["index", "status"]):
        res = CliRunner().invoke(app(), ["--debug", *cli.base, *args])
        if args[0] == "index":
            assert res.exit_code == 0
            continue
        assert res.exit_code == 1 and isinstance(res.exception, AssetdbError), (args, res.output)
        plain = cli.run(*args, code=1)
        assert plain.stderr.startswith("error: ") and len(plain.stderr.splitlines()) == 1


# ---------------------------------------------------------------- 6: ingest of missing paths


def test_ingest_of_a_missing_path_is_an_error(cli: Cli) -> None:
    res = cli.run("ingest", "/nonexistent/path", code=1)
    assert res.stderr.startswith("error: ") and "/nonexistent/path" in res.stderr
    res = cli.run("ingest", str(cli.root / "media"), "/nonexistent/path", "--only", "catalogue",
                  "--json", code=3)
    assert json.loads(res.stdout)["not_found"] == ["/nonexistent/path"]


# ---------------------------------------------------------------- 10: search feedback, early checks


def test_search_without_matches_says_so(cli: Cli) -> None:
    res = cli.run("search", "--object", "dog")
    assert "no matches" in res.stderr
    assert res.stdout.splitlines()[0].startswith("score\t") and len(res.stdout.splitlines()) == 1
    assert json.loads(cli.run("search", "--object", "dog", "--json").stdout) == []


HEAVY = ("torch", "sentence_transformers", "faiss", "open_clip", "sqlalchemy")
PROBE = """
import sys
from cli.main import app
try:
    app(args=sys.argv[1:], prog_name="assetdb")
except SystemExit as exc:
    print("EXIT", exc.code, sorted(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["search", "--limit", "0", "dog"],
                                  ["search", ""], ["search", "   "]])
def test_argument_checks_load_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    code = PROBE.format(heavy=HEAVY)
    res = subprocess.run([sys.executable, "-c", code, "--data-dir", str(tmp_path), *args], check=False,
                         capture_output=True, text=True, cwd=REPO, env=_env(), timeout=120)
    last = res.stdout.strip().splitlines()[-1]
    expect = 0 if "--help" in args else 2
    assert last == f"EXIT {expect} []", (last, res.stderr)


def test_person_filters_are_documented_as_and() -> None:
    res = CliRunner().invoke(app(), ["search", "--help"], env={"COLUMNS": "200"})
    assert "ALL of them" in res.stdout
