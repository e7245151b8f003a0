"""`assetdb search` through a running `assetdb serve` on the same store.

Standard library only (no model, no database driver is imported): when the discovery
file names a live server on the same database, the query goes over loopback HTTP and
the hits come back as `assetdb search --json` prints them; otherwise (no server, it
does not answer, or the request carries a local file the server must not read) the
caller searches in-process.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from assetdb.errors import QueryError
from cli.web import discovery

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0
# hit fields the server adds for the web app; `assetdb search` prints the library's
WEB_ONLY_FIELDS = ("name", "keyframes", "thumbnail_url", "play")


def _params(req: Any) -> dict[str, Any] | None:
    """Query parameters for a SearchRequest, or None when it needs local files."""
    if (getattr(req, "like_image", None) or getattr(req, "sounds_like", None)
            or getattr(req, "add_images", None) or getattr(req, "fusion", "calibrated") != "calibrated"):
        return None
    p: dict[str, Any] = {
        "q": req.query, "limit": req.limit, "kind": req.kind, "path": req.path,
        "min_duration": req.min_duration, "max_duration": req.max_duration,
        "like_shot": req.like_shot, "sounds_like_shot": req.sounds_like_shot,
        "cutoff": req.cutoff, "person": list(req.persons or []),
        "object": list(req.objects or []), "sound": list(req.sounds or []),
        "add": list(req.add or []), "subtract": list(req.subtract or []),
    }
    for name in ("after", "before"):
        v = getattr(req, name)
        p[name] = v.isoformat() if isinstance(v, datetime) else v
    if req.per_asset:
        p["per_asset"] = "true"
    if req.all_shots:
        p["all_shots"] = "true"
    if req.explain:
        p["explain"] = "true"
    return {k: v for k, v in p.items() if v not in (None, "", [])}


def search_via_server(data_dir: str | Path, database_url: str, req: Any,
                      timeout_s: float = TIMEOUT_S) -> list[dict[str, Any]] | None:
    """The hits from a running server, or None to search in-process. A request the
    server rejects (400) raises QueryError with its message, as in-process would."""
    info = discovery.read(data_dir, database_url=database_url)
    if info is None:
        return None
    params = _params(req)
    if params is None:
        return None
    url = info["url"].rstrip("/") + "/api/search?" + urllib.parse.urlencode(params, doseq=True)
    headers = {"Accept": "application/json"}
    if info.get("token"):
        headers["Authorization"] = f"Bearer {info['token']}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=timeout_s) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code in (400, 404, 422):
            try:
                msg = json.load(exc).get("error")
            except ValueError:
                msg = None
            if msg:
                raise QueryError(msg) from None
        log.info("server at %s answered %s; searching in-process", info["url"], exc.code)
        return None
    except (OSError, ValueError) as exc:
        log.info("server at %s unreachable (%s); searching in-process", info["url"], exc)
        return None
    hits = body.get("results")
    if not isinstance(hits, list):
        return None
    log.info("searched through %s", info["url"])
    return [{k: v for k, v in h.items() if k not in WEB_ONLY_FIELDS} for h in hits]
