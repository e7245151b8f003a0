"""Hybrid search over the catalogue: the request and its validation (:mod:`.request`),
the ranking sources (:mod:`.sources`, full text in :mod:`.fts`), reciprocal-rank
fusion (:mod:`.fusion`), hits (:mod:`.hits`) and the search itself (:mod:`.engine`).

``validate_request`` loads nothing: call it before opening a store or a model."""

import importlib
from typing import Any

from assetdb.search.request import (
    DEFAULT_WEIGHTS,
    KINDS,
    SearchRequest,
    parse_time,
    validate_request,
)

# The rest imports SQLAlchemy and numpy: loaded on first use, so that a CLI can
# validate a request before anything heavy is imported.
_LAZY = {
    "CANDIDATES_MIN": "engine", "TRANSCRIPT_MIN_COSINE": "engine", "index_status": "engine",
    "search": "engine", "FtsQuery": "fts", "TextHit": "fts", "parse": "fts",
    "pg_tsquery": "fts", "search_texts": "fts", "sqlite_match": "fts", "RRF_K": "fusion",
    "competition_ranks": "fusion", "rrf_fuse": "fusion", "SearchHit": "hits",
    "SourceScore": "hits",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'assetdb.search' has no attribute {name!r}")
    return getattr(importlib.import_module(f"assetdb.search.{module}"), name)


__all__ = [
    "CANDIDATES_MIN",
    "DEFAULT_WEIGHTS",
    "KINDS",
    "RRF_K",
    "TRANSCRIPT_MIN_COSINE",
    "FtsQuery",
    "SearchHit",
    "SearchRequest",
    "SourceScore",
    "TextHit",
    "competition_ranks",
    "index_status",
    "parse",
    "parse_time",
    "pg_tsquery",
    "rrf_fuse",
    "search",
    "search_texts",
    "sqlite_match",
    "validate_request",
]
