"""How a query's cosine sits against the archive as a whole: the mean and spread of the
query's similarity to a fixed-size sample of the stored vectors of a space.

A concepts-space cosine means different things for different queries: "a tree with
green leaves" scores 0.27-0.29 against every video shot of the sample archive, while
"people in an office meeting" scores its right answer 0.15. The visual relevance curve
(:data:`assetdb.search.fusion.CALIBRATION`) therefore takes, beside the cosine, how far
it stands above the query's own background, ``z = (cosine - mean) / std``. The sample
is spread evenly over the space's rows (every n-th id), at most
:data:`BACKGROUND_SAMPLE` vectors, so the statistic does not depend on the archive's
size; it is read once per process and space and re-read when the space's row count or
id sum changes.
"""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import select, text

from assetdb.records import bytes_to_vector
from assetdb.schema import Vector

BACKGROUND_SAMPLE = 2000

_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[tuple[int, int], np.ndarray]] = {}


def background_vectors(store, space: str) -> np.ndarray:
    """Up to BACKGROUND_SAMPLE unit vectors of ``space``, spread over its rows (n x d)."""
    with store.session() as s:
        # the space's row count and id sum, kept by triggers (migration 0011): one row
        # read, where an aggregate over the space grew with the archive
        row = s.execute(text("SELECT count, id_sum FROM vector_stats WHERE space = :s"),
                        {"s": space}).first()
        n, last = (int(row[0] or 0), int(row[1] or 0)) if row is not None else (0, 0)
        key = (str(store.settings.database_url), space)
        with _lock:
            hit = _cache.get(key)
        if hit is not None and hit[0] == (n, last):
            return hit[1]
        step = max(1, n // BACKGROUND_SAMPLE)
        stmt = select(Vector.data).where(Vector.space == space)
        if step > 1:
            stmt = stmt.where(Vector.id % step == 0)
        blobs = s.execute(stmt.order_by(Vector.id).limit(BACKGROUND_SAMPLE)).scalars().all()
    if blobs:
        m = np.stack([bytes_to_vector(b) for b in blobs]).astype(np.float32)
        m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    else:
        m = np.zeros((0, 0), dtype=np.float32)
    with _lock:
        _cache[key] = ((n, last), m)
    return m


def query_background(store, space: str, query: np.ndarray) -> tuple[float, float] | None:
    """(mean, standard deviation) of the query's cosine to the sample; None when the
    space holds too few vectors for a spread (fewer than 20)."""
    m = background_vectors(store, space)
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if len(m) < 20 or m.shape[1] != q.shape[0]:
        return None
    sims = m @ (q / max(float(np.linalg.norm(q)), 1e-12))
    sd = float(sims.std())
    return (float(sims.mean()), sd) if sd > 1e-6 else None
