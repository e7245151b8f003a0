"""A real `assetdb serve` app on a free loopback port (uvicorn in a thread), and a
store of sample clips for the web tests."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

WEB_MEDIA = ["video/tree.avi", "video/short_hamilton_clip.mp4", "images/two_people.jpg",
             "images/obama.jpg", "images/biden.jpg"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(store: Any, *, token: str | None = None, warm: bool = False,
                discovery: bool = False) -> Iterator[str]:
    import uvicorn

    from cli.web import discovery as disc
    from cli.web.app import create_app

    port = free_port()
    app = create_app(store, token=token, warm=warm)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    if discovery:
        disc.write(store.settings.data_dir, url=url, database_url=store.settings.database_url,
                   token=token)
    try:
        yield url
    finally:
        if discovery:
            disc.remove(store.settings.data_dir)
        server.should_exit = True
        thread.join(timeout=15)


def http(url: str, *, method: str = "GET", body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) without raising on 4xx/5xx and without following redirects."""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with opener.open(req, timeout=120) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def get_json(url: str, **kw: Any) -> Any:
    status, _, body = http(url, **kw)
    assert status == 200, (status, body[:500])
    return json.loads(body)


def ingest_web_media(store: Any, media_dir: Path, extractors: list[str]) -> None:
    from indexer.ingest import ingest

    report = ingest(store, [media_dir / p for p in WEB_MEDIA], workers=1, extractors=extractors)
    assert not report.failed and not report.stage_failures, report.to_dict()
