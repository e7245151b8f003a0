"""FAISS vector indexes over SQL rows: index kinds and search (:mod:`.core`), the
index file and its sidecar (:mod:`.persist`), and keeping an index in step with
SQL (:mod:`.sql`). faiss is imported inside functions so ``import assetdb`` stays light."""

from assetdb.index.core import VectorIndex
from assetdb.index.params import (
    COMPACT_FRACTION,
    DEFAULTS,
    FLAT_MAX,
    HNSW_MAX,
    KINDS,
    IdStats,
    auto_kind,
    default_nlist,
    normalise,
)
from assetdb.index.persist import memmap_refine, sidecar_path
from assetdb.index.sql import (
    VectorSource,
    db_id,
    forget_open_indexes,
    index_path,
    open_index,
    rebuild_index,
    sql_refine,
    vectors_source,
)

__all__ = [
    "COMPACT_FRACTION",
    "DEFAULTS",
    "FLAT_MAX",
    "HNSW_MAX",
    "KINDS",
    "IdStats",
    "VectorIndex",
    "VectorSource",
    "auto_kind",
    "db_id",
    "default_nlist",
    "forget_open_indexes",
    "index_path",
    "memmap_refine",
    "normalise",
    "open_index",
    "rebuild_index",
    "sidecar_path",
    "sql_refine",
    "vectors_source",
]
