"""`assetdb search` through a running `assetdb serve` (the discovery file in the data
dir), its fall-backs, and the `serve` command itself."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assetdb.errors import QueryError
from assetdb.search import SearchRequest, search
from cli.web import discovery
from cli.web.client import search_via_server
from tests.conftest import REPO, require_shared_data
from tests.liveserver import free_port, http, ingest_web_media, live_server

pytest.importorskip("fastapi")
SHARED = require_shared_data()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cat(module_store):
    ingest_web_media(module_store, SHARED / "media", ["proxy"])
    return module_store


def _cli(store, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--data-dir", str(store.settings.data_dir),
         "--database-url", store.settings.database_url, *args],
        check=False, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)


def test_search_goes_through_the_server(cat) -> None:
    settings = cat.settings
    want = json.loads(json.dumps([h.to_dict() for h in search(
        cat, SearchRequest(query="tree", limit=5))]))
    assert search_via_server(settings.data_dir, settings.database_url,
                             SearchRequest(query="tree", limit=5)) is None  # no server yet
    with live_server(cat, token="t0ken", discovery=True) as url:
        path = discovery.discovery_path(settings.data_dir)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        got = search_via_server(settings.data_dir, settings.database_url,
                                SearchRequest(query="tree", limit=5))
        assert got == want
        # another database, a file to read locally: search in-process
        assert search_via_server(settings.data_dir, "sqlite:////elsewhere.db",
                                 SearchRequest(query="tree")) is None
        assert search_via_server(settings.data_dir, settings.database_url,
                                 SearchRequest(query="tree", like_image=Path("x.jpg"))) is None
        # what the server refuses is refused with its reason
        with pytest.raises(QueryError, match="limit"):
            search_via_server(settings.data_dir, settings.database_url,
                              SearchRequest(query="tree", limit=0))
        # the command line uses it
        r = _cli(cat, "-v", "search", "tree", "--limit", "5", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == want
        assert f"searched through {url}" in " ".join(r.stderr.split())
    assert not path.exists()


def test_a_dead_server_is_ignored(cat) -> None:
    settings = cat.settings
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    discovery.write(settings.data_dir, url=f"http://127.0.0.1:{free_port()}",
                    database_url=settings.database_url, token=None)
    info = json.loads(discovery.discovery_path(settings.data_dir).read_text())
    info["pid"] = dead.pid
    discovery.discovery_path(settings.data_dir).write_text(json.dumps(info))
    try:
        assert search_via_server(settings.data_dir, settings.database_url,
                                 SearchRequest(query="tree")) is None
        # alive but not answering: in-process too
        info["pid"] = os.getpid()
        discovery.discovery_path(settings.data_dir).write_text(json.dumps(info))
        assert search_via_server(settings.data_dir, settings.database_url,
                                 SearchRequest(query="tree"), timeout_s=2) is None
        r = _cli(cat, "search", "tree", "--limit", "3", "--json")
        assert r.returncode == 0 and json.loads(r.stdout), r.stderr
    finally:
        discovery.discovery_path(settings.data_dir).unlink(missing_ok=True)


def test_serve_command_end_to_end(cat) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "--data-dir", str(cat.settings.data_dir),
         "--database-url", cat.settings.database_url, "serve", "--port", str(port),
         "--no-warm"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if http(url + "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.3)
        info = discovery.read(cat.settings.data_dir, database_url=cat.settings.database_url)
        assert info is not None and info["url"] == url and info["pid"] == proc.pid
        r = _cli(cat, "-v", "search", "tree", "--limit", "3", "--json")
        assert r.returncode == 0 and f"searched through {url}" in " ".join(r.stderr.split())
        # a second server on the same port says so in one line and leaves the first alone
        r = _cli(cat, "serve", "--port", str(port), "--no-warm", timeout=120)
        assert r.returncode == 1 and r.stderr.startswith("error: cannot serve on"), r.stderr
        assert discovery.read(cat.settings.data_dir)["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"serving {url}/" in err
    assert not discovery.discovery_path(cat.settings.data_dir).exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_serving_beyond_loopback_needs_a_token(cat, host: str) -> None:
    r = _cli(cat, "serve", "--host", host, "--port", str(free_port()), timeout=60)
    assert r.returncode == 2
    assert "--token" in r.stderr
