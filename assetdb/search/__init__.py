"""Hybrid search over the catalogue: the request and its validation (:mod:`.request`),
the ranking sources (:mod:`.sources`, full text in :mod:`.fts`), reciprocal-rank
fusion (:mod:`.fusion`), hits (:mod:`.hits`) and the search itself (:mod:`.engine`).

``validate_request`` loads nothing: call it before opening a store or a model."""

from assetdb.search.engine import CANDIDATES_MIN, TRANSCRIPT_MIN_COSINE, index_status, search
from assetdb.search.fts import FtsQuery, TextHit, parse, pg_tsquery, search_texts, sqlite_match
from assetdb.search.fusion import RRF_K, competition_ranks, rrf_fuse
from assetdb.search.hits import SearchHit, SourceScore
from assetdb.search.request import (
    DEFAULT_WEIGHTS,
    KINDS,
    SearchRequest,
    parse_time,
    validate_request,
)

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
