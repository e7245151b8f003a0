"""The FastAPI application: JSON API, web app (static files from the package), guards.

Security (see README "assetdb serve"):
- without a token the server answers only requests addressed to a loopback name
  (``Host`` 127.0.0.1 / localhost / [::1]), so a web page elsewhere cannot reach it
  through DNS rebinding;
- with a token every request carries it: ``Authorization: Bearer``, the
  ``X-Assetdb-Token`` header, or the cookie set when the app is opened once with
  ``?token=`` (media elements cannot send headers);
- requests that change something (POST) also need ``X-Requested-With: assetdb``, a header
  a cross-site form cannot send, so a page elsewhere cannot ride on the cookie.
"""

from __future__ import annotations

import hmac
import logging
import shutil
import tempfile
import threading
from collections import OrderedDict
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from cli.web import library as lib
from cli.web.api import router

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
TOKEN_COOKIE = "assetdb_token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
CHANGE_HEADER = ("x-requested-with", "assetdb")
WARM_QUERY = "warm up"


def _host_name(host_header: str) -> str:
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[: h.find("]") + 1] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def _supplied_token(request: Request) -> tuple[str | None, bool]:
    """(token, came in the query string)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    if "x-assetdb-token" in request.headers:
        return request.headers["x-assetdb-token"], False
    if TOKEN_COOKIE in request.cookies:
        return request.cookies[TOKEN_COOKIE], False
    if "token" in request.query_params:
        return request.query_params["token"], True
    return None, False


def warm_up(store: lib.Store) -> float:
    """Load the query models and indexes once (the first query pays for it otherwise).
    Returns the seconds it took; an empty store has nothing to warm."""
    import time

    t0 = time.perf_counter()
    try:
        lib.search(store, lib.SearchRequest(query=WARM_QUERY, limit=1))
    except lib.AssetdbError as exc:
        log.info("nothing to warm up: %s", exc)
    return time.perf_counter() - t0


def create_app(store: lib.Store, *, token: str | None = None, warm: bool = True) -> FastAPI:
    """The app over an open store. ``token``: required on every request when set."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm:
            from starlette.concurrency import run_in_threadpool

            secs = await run_in_threadpool(warm_up, store)
            log.info("query models warm in %.1f s", secs)
        yield
        shutil.rmtree(app.state.tmp_dir, ignore_errors=True)

    app = FastAPI(
        title="assetdb", version="1",
        summary="Search a production media archive: shots, stills, sounds, persons, reels.",
        docs_url=None, redoc_url=None, lifespan=lifespan,
    )
    app.state.store = store
    app.state.token = token
    app.state.search_lock = threading.Lock()
    app.state.reels = OrderedDict()
    app.state.reel_seq = 0
    app.state.tmp_dir = tempfile.mkdtemp(prefix="assetdb-serve-")

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        if token is None:
            if _host_name(request.headers.get("host", "")) not in LOOPBACK_HOSTS:
                return JSONResponse({"error": "this server answers loopback names only; "
                                     "start it with --token to serve other hosts"}, 421)
        else:
            supplied, in_query = _supplied_token(request)
            if supplied is None or not hmac.compare_digest(supplied.encode(), token.encode()):
                return JSONResponse({"error": "a valid token is required"}, 401,
                                    headers={"WWW-Authenticate": "Bearer"})
            if in_query and request.method == "GET" and not request.url.path.startswith("/api/"):
                # the link with ?token= sets the cookie once; the address bar drops it
                resp = RedirectResponse(request.url.remove_query_params("token"), 303)
                resp.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
                return resp
        if request.method not in ("GET", "HEAD", "OPTIONS") and \
                request.headers.get(CHANGE_HEADER[0]) != CHANGE_HEADER[1]:
            return JSONResponse({"error": f"changes need the header "
                                 f"'X-Requested-With: {CHANGE_HEADER[1]}'"}, 403)
        resp = await call_next(request)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.url.path.startswith("/api/"):
            resp.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                "style-src 'self'; script-src 'self'; connect-src 'self'; "
                "frame-ancestors 'none'")
        return resp

    @app.exception_handler(lib.NotFound)
    async def _not_found(_: Request, exc: lib.NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 404)

    @app.exception_handler(lib.AssetdbError)
    async def _bad_request(_: Request, exc: lib.AssetdbError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 400)

    app.include_router(router)

    @app.get("/api/health", summary="Liveness and the store it serves")
    def health() -> dict[str, Any]:
        return {"ok": True, "database": store.engine.url.render_as_string(hide_password=True),
                "data_dir": str(store.settings.data_dir), "vectors": lib.vector_count(store)}

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC_DIR / "docs.html", media_type="text/html")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
