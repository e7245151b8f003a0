"""Index kinds, their default parameters and the helpers every part of the index shares
(vector normalisation, id statistics)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from assetdb.errors import IndexMismatch

KINDS = ("flat", "hnsw", "ivf", "ivfpq")
METRIC = "inner_product"
FORMAT_VERSION = 1

# auto_kind thresholds (vectors). Flat costs ~0.1 ms per 1k vectors per query on
# 2 cores (numpy/BLAS scan), so it stays under ~5 ms up to 50k. HNSW keeps full
# float32 vectors plus ~2*M*4 bytes of graph per vector in RAM (~2.3 KB at 512-d),
# fine up to a few million; beyond that ivfpq keeps ~72 bytes per vector in RAM.
FLAT_MAX = 50_000
HNSW_MAX = 2_000_000

COMPACT_FRACTION = 0.1  # hnsw: rebuild once tombstones exceed this share
GPU_MAX_K = 2048  # FAISS GPU indexes return at most this many neighbours
CHUNK_ROWS = 20_000  # rows per chunk read from SQL
IN_CHUNK = 900  # ids per IN (...) clause (SQLite variable limits)

# Defaults measured with bench/search.py (clustered 512-d vectors, 2 shared cores).
# At 1M: hnsw efSearch 128 recall@10 0.949 at 0.31 ms p50 (64: 0.937);
# ivf 2048 lists nprobe 16 recall 1.000 at 1.3 ms; ivfpq 2048 lists PQ64x8 nprobe 16 with
# 100 candidates re-ranked recall 0.993 at 0.56 ms (2M, re-ranked from disk: 0.983, 1 ms);
# at 10M 100 candidates give 0.914 and 200 give 0.964 (4 ms), hence k_factor 20.
DEFAULTS: dict[str, dict[str, Any]] = {
    "flat": {},
    "hnsw": {"M": 32, "efConstruction": 40, "efSearch": 128},
    "ivf": {"nlist": None, "nprobe": 16},
    "ivfpq": {"nlist": None, "nprobe": 16, "m": 64, "nbits": 8, "k_factor": 20},
}
TRAIN_PER_LIST = 40  # training sample per inverted list (faiss warns below 39)

Refine = Callable[[np.ndarray], np.ndarray]


def auto_kind(n: int) -> str:
    if n <= FLAT_MAX:
        return "flat"
    if n <= HNSW_MAX:
        return "hnsw"
    return "ivfpq"


def default_nlist(n: int) -> int:
    """~2*sqrt(n) inverted lists (2048 at 1M, as measured), a power of two, with at
    least 39 training points each."""
    if n <= 0:
        return 1
    nlist = 2 ** round(math.log2(max(1.0, 2 * math.sqrt(n))))
    return int(max(1, min(nlist, 65536, n // 39)))


def normalise(x: np.ndarray, dim: int | None = None) -> np.ndarray:
    """A C-contiguous float32 copy of ``x`` (2-d) with unit rows (zero rows stay zero)."""
    a = np.array(x, dtype=np.float32, copy=True, order="C")
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise IndexMismatch(f"vectors must be a 2-d array, got shape {a.shape}")
    if dim is not None and a.shape[1] != dim:
        raise IndexMismatch(f"vectors have dimension {a.shape[1]}, the index has {dim}")
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    np.divide(a, norms, out=a, where=norms > 0)
    return a


def as_ids(ids: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).ravel())


# id statistics: a cheap fingerprint of an id set, computed alike in numpy and SQL
HASH_MUL = 2654435761
HASH_MOD = 4294967311


@dataclass(frozen=True)
class IdStats:
    count: int
    max_id: int
    id_sum: int
    id_hash: int

    def same_ids(self, other: IdStats | None) -> bool:
        """The same id set, as far as the fingerprint tells (count, sum and checksum;
        ``max_id`` is informative: the statistics SQL keeps per space do not track it)."""
        return other is not None and (self.count, self.id_sum, self.id_hash) == (
            other.count, other.id_sum, other.id_hash)

    @classmethod
    def of(cls, ids: np.ndarray) -> IdStats:
        ids = as_ids(ids)
        if ids.size == 0:
            return cls(0, -1, 0, 0)
        return cls(
            count=int(ids.size),
            max_id=int(ids.max()),
            id_sum=int(ids.sum(dtype=np.int64)),
            id_hash=int(((ids * HASH_MUL) % HASH_MOD).sum(dtype=np.int64)),
        )
