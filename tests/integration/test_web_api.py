"""`assetdb serve`'s JSON API over a real store of sample clips (SQLite and PostgreSQL):
search as `assetdb search --json`, assets, media with HTTP Range, proxies, keyframes,
persons, highlights, selects, and the guards (token, host, changes, paths, ranges)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, require_shared_data
from tests.liveserver import get_json, http, ingest_web_media, live_server

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
SHARED = require_shared_data()

pytestmark = pytest.mark.slow
CHANGE = {"X-Requested-With": "assetdb"}


@pytest.fixture(scope="module")
def web(module_store):
    ingest_web_media(module_store, SHARED / "media", ["faces", "proxy"])
    with live_server(module_store) as url:
        yield module_store, url


def _asset_id(url: str, name: str) -> int:
    assets = get_json(f"{url}/api/assets")["assets"]
    return next(a["id"] for a in assets if a["name"] == name)


def test_search_gives_the_cli_hits_with_pictures(web) -> None:
    from assetdb.search import SearchRequest, search

    store, url = web
    got = get_json(f"{url}/api/search?q=tree&limit=5")
    want = [h.to_dict() for h in search(store, SearchRequest(query="tree", limit=5))]
    assert got["results"], got
    for g, w in zip(got["results"], want, strict=True):
        assert {k: g[k] for k in w} == json.loads(json.dumps(w))
    top = got["results"][0]
    assert top["name"] == "tree.avi"
    assert top["play"] == {"source": "proxy", "url": f"/api/assets/{top['asset_id']}/proxy",
                           "reason": None, "offset_s": 0.0}
    status, headers, body = http(url + top["thumbnail_url"])
    assert status == 200 and headers["content-type"] == "image/jpeg"
    assert body[:2] == b"\xff\xd8"
    assert [k["url"] for k in top["keyframes"]]


def test_search_filters_and_errors(web) -> None:
    _, url = web
    images = get_json(f"{url}/api/search?q=obama&kind=image")["results"]
    assert images and all(h["kind"] == "image" for h in images)
    status, _, body = http(f"{url}/api/search?q=tree&limit=0")
    assert status == 400 and b"limit" in body
    status, _, body = http(f"{url}/api/search?q=tree&after=yesterday")
    assert status == 400 and b"ISO date" in body
    status, _, _ = http(f"{url}/api/search?q=tree&limit=many")
    assert status == 422


def test_search_marks_weak_matches(web) -> None:
    _, url = web
    q = "two%20quarterly%20tax%20spreadsheets"  # one word of four, in a file name
    got = get_json(f"{url}/api/search?q={q}")["results"]
    assert got and len(got) <= 3 and all(h["weak"] is True for h in got)
    assert all(h["score"] < 0.1 for h in got)
    assert get_json(f"{url}/api/search?q={q}&weak=0")["results"] == []
    good = get_json(f"{url}/api/search?q=tree")["results"]
    assert good and not any(h["weak"] for h in good)
    status, _, _ = http(f"{url}/api/search?q={q}&weak=-1")
    assert status in (400, 422)


def test_asset_details_and_bad_ids(web) -> None:
    _, url = web
    aid = _asset_id(url, "short_hamilton_clip.mp4")
    d = get_json(f"{url}/api/assets/{aid}")
    assert d["play"]["source"] == "original"
    # its video starts 0.852 s into the file: the player's clock is offset by that
    assert d["play"]["offset_s"] == pytest.approx(10214 / 11988, abs=1e-6)
    assert len(d["segments"]) > 1
    kf = d["segments"][0]["keyframes"][0]
    assert kf["url"] == f"/api/keyframes/{kf['id']}"
    assert d["faces"] and d["faces"][0]["crop_url"].startswith("/api/faces/")
    for bad, code in (("999999", 404), ("0", 404), ("-3", 404), ("abc", 422)):
        assert http(f"{url}/api/assets/{bad}")[0] == code, bad
        assert http(f"{url}/api/assets/{bad}/media")[0] == code, bad
    assert http(f"{url}/api/keyframes/999999")[0] == 404
    assert http(f"{url}/api/faces/999999/crop")[0] == 404


def test_media_ranges(web) -> None:
    _, url = web
    aid = _asset_id(url, "short_hamilton_clip.mp4")
    original = (SHARED / "media/video/short_hamilton_clip.mp4").read_bytes()
    size = len(original)
    media = f"{url}/api/assets/{aid}/media"
    status, h, body = http(media)
    assert status == 200 and body == original and h["accept-ranges"] == "bytes"
    assert h["content-type"] == "video/mp4"
    status, h, body = http(media, headers={"Range": "bytes=100-199"})
    assert status == 206 and body == original[100:200]
    assert h["content-range"] == f"bytes 100-199/{size}"
    status, h, body = http(media, headers={"Range": "bytes=-50"})
    assert status == 206 and body == original[-50:]
    status, h, body = http(media, headers={"Range": f"bytes={size - 10}-"})
    assert status == 206 and body == original[-10:]
    status, h, body = http(media, headers={"Range": f"bytes={size - 10}-{size + 500}"})
    assert status == 206 and body == original[-10:]
    for bad in (f"bytes={size}-", "bytes=50-10", "bytes=abc", "items=0-10", "bytes=-0",
                "bytes=0-1,5-9", "bytes=-"):
        status, h, body = http(media, headers={"Range": bad})
        assert status == 416, bad
        assert h["content-range"] == f"bytes */{size}" and not body


def test_proxy_only_where_a_browser_needs_one(web) -> None:
    _, url = web
    tree = _asset_id(url, "tree.avi")
    status, h, body = http(f"{url}/api/assets/{tree}/proxy", headers={"Range": "bytes=0-63"})
    assert status == 206 and h["content-type"] == "video/mp4" and body[4:8] == b"ftyp"
    hamilton = _asset_id(url, "short_hamilton_clip.mp4")
    assert http(f"{url}/api/assets/{hamilton}/proxy")[0] == 404


@pytest.mark.parametrize("path", [
    "/api/assets/..%2F..%2Fetc%2Fpasswd/media",
    "/api/assets/1%2F..%2F..%2Fetc%2Fpasswd/media",
    "/api/keyframes/..%2F..%2Fetc%2Fpasswd",
    "/static/../../../../etc/passwd",
    "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/assets/1/media?path=/etc/passwd&file=/etc/passwd",
])
def test_no_path_from_the_request_reaches_a_file(web, path: str) -> None:
    _, url = web
    status, _, body = http(url + path)
    assert b"root:x:0:0" not in body
    if "media?path" not in path:
        assert 400 <= status < 500, (path, status)


def test_changes_need_the_change_header(web) -> None:
    _, url = web
    persons = get_json(f"{url}/api/persons")["persons"]
    pid = persons[0]["id"]
    status, _, _ = http(f"{url}/api/persons/{pid}/name", method="POST", body={"name": "X"})
    assert status == 403


def test_only_loopback_names_without_a_token(web) -> None:
    _, url = web
    status, _, _ = http(f"{url}/api/health", headers={"Host": "evil.example:80"})
    assert status == 421
    port = url.rsplit(":", 1)[1]
    assert http(f"{url}/api/health", headers={"Host": f"localhost:{port}"})[0] == 200


def test_persons_name_merge_split_reject(web) -> None:
    _, url = web
    persons = get_json(f"{url}/api/persons")["persons"]
    assert persons and all(p["thumbnail_url"] for p in persons)
    big = max(persons, key=lambda p: p["faces"])
    r = get_json(f"{url}/api/persons/{big['id']}/name", method="POST",
                 body={"name": "Lin-Manuel [lead]"}, headers=CHANGE)
    assert r == {"id": big["id"], "name": "Lin-Manuel [lead]"}
    shown = get_json(f"{url}/api/persons/Lin-Manuel%20[lead]")
    assert shown["id"] == big["id"] and len(shown["face_list"]) == big["faces"]
    hits = get_json(f"{url}/api/search?person=Lin-Manuel%20[lead]")["results"]
    assert hits and all(h["name"] == "short_hamilton_clip.mp4" for h in hits)
    # the same name twice is refused, as on the command line
    other = next(p for p in persons if p["id"] != big["id"])
    status, _, body = http(f"{url}/api/persons/{other['id']}/name", method="POST",
                           body={"name": "lin-manuel [LEAD]"}, headers=CHANGE)
    assert status == 400 and b"already named" in body
    # split one face off, reject another, merge the split back
    faces = [f["id"] for f in shown["face_list"]]
    assert len(faces) >= 3
    new = get_json(f"{url}/api/persons/{big['id']}/split", method="POST",
                   body={"faces": [faces[0]], "name": "Someone Else"}, headers=CHANGE)
    assert get_json(f"{url}/api/persons/{new['id']}")["faces"] == 1
    get_json(f"{url}/api/faces/{faces[1]}/reject", method="POST",
             body={"person": str(big["id"])}, headers=CHANGE)
    after = get_json(f"{url}/api/persons/{big['id']}")
    assert faces[1] not in [f["id"] for f in after["face_list"]]
    merged = get_json(f"{url}/api/persons/{big['id']}/merge", method="POST",
                      body={"sources": [str(new["id"])]}, headers=CHANGE)
    assert merged["id"] == big["id"]
    assert http(f"{url}/api/persons/{new['id']}")[0] == 404
    status, _, _ = http(f"{url}/api/persons/{big['id']}/split", method="POST",
                        body={"faces": []}, headers=CHANGE)
    assert status == 422


def test_highlights_reel_and_downloads(web) -> None:
    _, url = web
    aid = _asset_id(url, "short_hamilton_clip.mp4")
    reel = get_json(f"{url}/api/highlights", method="POST",
                    body={"asset_id": aid, "duration_s": 4}, headers=CHANGE)
    assert reel["clips"] and reel["duration_s"] <= 4.5
    assert all(c["play"]["url"] for c in reel["clips"])
    status, _, body = http(url + reel["downloads"]["edl"])
    assert status == 200 and b"short_hamilton_clip" in body and b"001" in body
    status, _, body = http(url + reel["downloads"]["otio"])
    assert status == 200 and json.loads(body)["OTIO_SCHEMA"].startswith("Timeline")
    status, _, body = http(url + reel["downloads"]["json"])
    assert status == 200 and len(json.loads(body)["clips"]) == len(reel["clips"])
    status, h, body = http(url + reel["downloads"]["mp4"])
    assert status == 200 and h["content-type"] == "video/mp4" and body[4:8] == b"ftyp"
    assert "attachment" in h["content-disposition"]
    assert http(f"{url}/api/highlights/{reel['id']}/reel.exe")[0] == 400
    assert http(f"{url}/api/highlights/987654/reel.edl")[0] == 404
    image = _asset_id(url, "obama.jpg")
    status, _, body = http(f"{url}/api/highlights", method="POST",
                           body={"asset_id": image, "duration_s": 4}, headers=CHANGE)
    assert status == 400 and b"video" in body


def test_selects_export(web) -> None:
    _, url = web
    aid = _asset_id(url, "short_hamilton_clip.mp4")
    items = [{"asset_id": aid, "start_s": 0.0, "end_s": 2.0, "segment_id": None},
             {"asset_id": aid, "start_s": 3.0, "end_s": 4.5}]
    status, _, body = http(f"{url}/api/selects/export", method="POST",
                           body={"format": "csv", "items": items}, headers=CHANGE)
    lines = body.decode().splitlines()
    assert status == 200 and len(lines) == 3 and lines[1].split(",")[5] == "00:00:00;00"
    status, _, body = http(f"{url}/api/selects/export", method="POST",
                           body={"format": "edl", "items": items}, headers=CHANGE)
    assert status == 200 and body.count(b"short_hamilton_clip") >= 2
    status, _, body = http(f"{url}/api/selects/export", method="POST",
                           body={"format": "otio", "items": items}, headers=CHANGE)
    assert status == 200 and len(json.loads(body)["tracks"]["children"][0]["children"]) == 2
    for bad in ({"format": "xls", "items": items}, {"format": "csv", "items": []},
                {"format": "csv", "items": [{"asset_id": 99999, "start_s": 0, "end_s": 1}]},
                {"format": "csv", "items": [{"asset_id": aid, "start_s": 2, "end_s": 1}]}):
        assert http(f"{url}/api/selects/export", method="POST", body=bad,
                    headers=CHANGE)[0] == 400, bad


def test_status_pages_and_docs(web) -> None:
    _, url = web
    s = get_json(f"{url}/api/status")
    assert s["assets"]["indexed"] == 5 and s["stages"]["proxy"]["done"] == 2
    assert s["failed"] == [] and s["stage_failures"] == []
    status, h, body = http(f"{url}/")
    assert status == 200 and b"/static/app.js" in body
    assert "default-src 'self'" in h["content-security-policy"]
    for asset in ("app.js", "util.js", "search.js", "asset.js", "pages.js", "app.css",
                  "docs.js"):
        assert http(f"{url}/static/{asset}")[0] == 200, asset
    status, _, body = http(f"{url}/docs")
    assert status == 200 and b"docs.js" in body
    spec = get_json(f"{url}/openapi.json")
    assert {"/api/search", "/api/assets/{asset_id}/media", "/api/keyframes/{keyframe_id}",
            "/api/persons/{ref}/merge", "/api/highlights"} <= set(spec["paths"])


def test_no_cdn_anywhere() -> None:
    static = Path(__file__).resolve().parents[2] / "cli" / "web" / "static"
    for f in static.iterdir():
        text = f.read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), f
        assert "https://" not in text, f
        assert "@import" not in text and "url(http" not in text, f


def test_token_guards_every_request(module_store) -> None:
    with live_server(module_store, token="s3cret") as url:
        assert http(f"{url}/api/health")[0] == 401
        assert http(f"{url}/")[0] == 401
        assert http(f"{url}/api/health", headers={"Authorization": "Bearer nope"})[0] == 401
        assert http(f"{url}/api/health", headers={"Authorization": "Bearer s3cret"})[0] == 200
        assert http(f"{url}/api/health", headers={"X-Assetdb-Token": "s3cret"})[0] == 200
        status, h, _ = http(f"{url}/?token=s3cret")
        assert status == 303 and "token" not in h["location"]
        cookie = h["set-cookie"].split(";")[0]
        assert "httponly" in h["set-cookie"].lower()
        assert http(f"{url}/api/assets", headers={"Cookie": cookie})[0] == 200
        # with a token any Host may ask (the token is the guard) ...
        assert http(f"{url}/api/health", headers={"Host": "archive.lan:8765",
                                                  "Cookie": cookie})[0] == 200
        # ... and changes still need the change header
        status, _, _ = http(f"{url}/api/persons/1/name", method="POST", body={"name": "A"},
                            headers={"Cookie": cookie})
        assert status == 403
        status, _, _ = http(f"{url}/api/persons/1/name", method="POST", body={"name": "A"},
                            headers=CHANGE)
        assert status == 401


def test_new_assets_appear_without_a_restart(module_store) -> None:
    from indexer.ingest import ingest

    with live_server(module_store) as url:
        before = get_json(f"{url}/api/search?q=chaplin")["results"]
        assert not [h for h in before if h["name"] == "chaplin.mp4"]
        ingest(module_store, [SHARED / "media/video/chaplin.mp4"], workers=1,
               extractors=["proxy"])
        after = get_json(f"{url}/api/search?q=chaplin")["results"]
        assert [h for h in after if h["name"] == "chaplin.mp4"]


@pytest.mark.model
def test_the_vector_index_follows_an_ingest_beside_it(sqlite_store) -> None:
    """Visual search of a running server finds a clip ingested after it started: the
    index is synced when its SQL rows change, with no restart."""
    from indexer.ingest import ingest

    media = SHARED / "media"
    ingest(sqlite_store, [media / "images/obama.jpg"], workers=1, extractors=["concepts"])
    with live_server(sqlite_store, warm=True) as url:
        # cutoff=0: every hit however weak, so what is asked is what the index holds
        first = get_json(f"{url}/api/search?q=a%20tree%20with%20green%20leaves&cutoff=0")
        assert [h["name"] for h in first["results"]] == ["obama.jpg"]
        # eight clients search while the ingest writes vectors: none sees an error
        import threading

        stop, codes = threading.Event(), []

        def client() -> None:
            while not stop.is_set():
                codes.append(http(f"{url}/api/search?q=leaves&limit=5")[0])

        clients = [threading.Thread(target=client) for _ in range(8)]
        for t in clients:
            t.start()
        try:  # the ingest is another process, as beside a real server
            run = subprocess.run(
                [sys.executable, "-m", "cli.main", "--data-dir",
                 str(sqlite_store.settings.data_dir), "--database-url",
                 sqlite_store.settings.database_url, "ingest", "-j", "1", "--only", "concepts",
                 str(media / "video/tree.avi"), str(media / "images/biden.jpg")],
                env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}, cwd=REPO,
                capture_output=True, text=True, timeout=600, check=False)
            assert run.returncode == 0, run.stderr
            time.sleep(1.0)
        finally:
            stop.set()
            for t in clients:
                t.join()
        assert codes and set(codes) == {200}
        after = get_json(f"{url}/api/search?q=a%20tree%20with%20green%20leaves&cutoff=0")
        tree = [h for h in after["results"] if h["name"] == "tree.avi"]
        assert tree and "visual" in tree[0]["sources"]
