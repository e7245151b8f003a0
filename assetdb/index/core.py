"""FAISS vector indexes over SQL rows.

A :class:`VectorIndex` holds the vectors of one space (one model) under their SQL
primary keys. Vectors are L2-normalised float32 and compared by inner product
(cosine). Kinds:

``flat``    exact search (``IndexIDMap2(IndexFlatIP)``).
``hnsw``    graph search (``IndexIDMap2(IndexHNSWFlat)``); FAISS cannot delete from
            HNSW, so removed ids are tombstones filtered at search time and the graph
            is rebuilt from its own stored vectors once they pass ``COMPACT_FRACTION``.
``ivf``     ``IVF<nlist>,Flat`` (ids kept in the inverted lists).
``ivfpq``   ``IVF<nlist>,PQ<m>x<nbits>``: compressed codes in RAM, and the
            ``k * k_factor`` candidates re-ranked exactly with full vectors from a
            ``refine`` callable (ids -> vectors; a disk memmap or SQL). PQ scores alone
            lose too much recall on cross-modal (text->image) queries.
``auto``    by size: flat below ``FLAT_MAX`` vectors, hnsw up to ``HNSW_MAX``,
            ivfpq above (see :func:`auto_kind`).

IVF kinds are trained on the vectors given to :meth:`VectorIndex.build` (a sample of
at most ``train_size`` of them); :meth:`VectorIndex.add` then only assigns and
encodes, so build from a representative first batch. ``open_index`` rebuilds from
SQL whenever the size crosses an ``auto`` threshold.

Saving and loading are in :mod:`assetdb.index.persist`; keeping an index in step with
SQL in :mod:`assetdb.index.sql`. faiss is imported inside functions so that
``import assetdb`` stays light.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from assetdb.errors import IndexMismatch
from assetdb.index.params import (
    COMPACT_FRACTION,
    DEFAULTS,
    GPU_MAX_K,
    KINDS,
    TRAIN_PER_LIST,
    IdStats,
    Refine,
    as_ids,
    auto_kind,
    default_nlist,
    normalise,
)
from assetdb.index.persist import Persistent

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# The index


class VectorIndex(Persistent):
    """A FAISS index of one vector space whose ids are SQL primary keys."""

    def __init__(
        self,
        index: Any,
        *,
        space: str,
        dim: int,
        kind: str,
        params: dict[str, Any],
        db_id: str | None = None,
        device: str = "cpu",
        refine: Refine | None = None,
        tombstones: np.ndarray | None = None,
    ):
        self._index = index  # always the CPU index; the GPU copy is derived
        self.space = space
        self.dim = dim
        self.kind = kind
        self.params = dict(params)
        self.db_id = db_id
        self.device = device
        self.refine = refine
        self._tombstones = as_ids(tombstones) if tombstones is not None else np.empty(0, np.int64)
        self._gpu: Any = None
        self._gpu_stale = True
        self._warned_no_refine = False
        self.saved_stats: IdStats | None = None  # id statistics of the file it was loaded from
        self._apply_search_params()

    # -- construction -------------------------------------------------------

    @classmethod
    def build(
        cls,
        ids: Any,
        vectors: Any,
        *,
        space: str,
        kind: str = "auto",
        device: str = "cpu",
        db_id: str | None = None,
        refine: Refine | None = None,
        **params: Any,
    ) -> VectorIndex:
        """Build an index of ``kind`` over ``vectors`` (n, dim) under ``ids``.

        IVF kinds are trained here on (a sample of) these vectors. ``params``
        override :data:`DEFAULTS` (``nlist``, ``nprobe``, ``M``, ``efConstruction``,
        ``efSearch``, ``m``, ``nbits``, ``k_factor``, ``train_size``)."""
        x = normalise(vectors)
        ids = as_ids(ids)
        if ids.size != x.shape[0]:
            raise IndexMismatch(f"{ids.size} ids for {x.shape[0]} vectors")
        n, dim = x.shape
        index = cls.empty(
            dim,
            space=space,
            kind=kind,
            n_hint=n,
            device=device,
            db_id=db_id,
            refine=refine,
            **params,
        )
        if index.kind in ("ivf", "ivfpq"):
            index.train(x)
        index.add(ids, x)
        return index

    @classmethod
    def empty(
        cls,
        dim: int,
        *,
        space: str,
        kind: str = "auto",
        n_hint: int = 0,
        device: str = "cpu",
        db_id: str | None = None,
        refine: Refine | None = None,
        **params: Any,
    ) -> VectorIndex:
        """An untrained, empty index; IVF kinds need :meth:`train` before :meth:`add`.
        ``n_hint`` (expected size) picks the ``auto`` kind and the default ``nlist``."""
        import faiss

        if kind == "auto":
            kind = auto_kind(n_hint)
        if kind not in KINDS:
            raise IndexMismatch(f"unknown index kind {kind!r}; expected one of {', '.join(KINDS)}")
        unknown = set(params) - set(DEFAULTS[kind]) - {"train_size"}
        if unknown:
            raise IndexMismatch(f"unknown parameters for a {kind} index: {sorted(unknown)}")
        p = {**DEFAULTS[kind], **params}
        metric = faiss.METRIC_INNER_PRODUCT
        if kind == "flat":
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        elif kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dim, int(p["M"]), metric)
            inner.hnsw.efConstruction = int(p["efConstruction"])
            index = faiss.IndexIDMap2(inner)
        else:
            if p.get("nlist") is None:
                p["nlist"] = default_nlist(n_hint)
            nlist = int(p["nlist"])
            # a flat coarse quantizer costs nlist*dim per query and per added vector;
            # past 4096 lists an HNSW over the centroids is much cheaper
            coarse = f"IVF{nlist}_HNSW32" if nlist > 4096 else f"IVF{nlist}"
            if kind == "ivf":
                codec = "Flat"
            else:
                if "m" not in params:  # the largest sub-quantizer count <= 64 dividing dim
                    p["m"] = max(d for d in range(1, int(p["m"]) + 1) if dim % d == 0)
                m, nbits = int(p["m"]), int(p["nbits"])
                if dim % m:
                    raise IndexMismatch(f"PQ m={m} must divide the dimension {dim}")
                codec = f"PQ{m}x4fs" if nbits == 4 else f"PQ{m}x{nbits}"
            index = faiss.index_factory(dim, f"{coarse},{codec}", metric)
            ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
            ivf.cp.niter = 10
            if kind == "ivfpq" and nbits != 4:
                # the factory turns on polysemous training (Hamming-ordered codes we never
                # use); it multiplies training time by ~10
                ivf.do_polysemous_training = False
                ivf.pq.cp.niter = 10
        return cls(
            index,
            space=space,
            dim=dim,
            kind=kind,
            params=p,
            db_id=db_id,
            device=device,
            refine=refine,
        )

    def train(self, vectors: Any) -> None:
        """Train an IVF kind's quantizers on a sample of ``vectors`` (a no-op otherwise)."""
        if self.kind not in ("ivf", "ivfpq") or self._index.is_trained:
            return
        x = (
            vectors
            if (
                isinstance(vectors, np.ndarray)
                and vectors.dtype == np.float32
                and vectors.flags.c_contiguous
            )
            else normalise(vectors, self.dim)
        )
        nlist = int(self.params["nlist"])
        size = self.train_size()
        if x.shape[0] > size:
            rng = np.random.default_rng(0)
            x = x[np.sort(rng.choice(x.shape[0], size, replace=False))]
        need = max(nlist, 2 ** int(self.params.get("nbits", 0)))
        if x.shape[0] < need:
            raise IndexMismatch(
                f"cannot train a {self.kind} index ({nlist} lists) on {x.shape[0]} vectors; "
                f"it needs at least {need}: use fewer lists (nlist=) or the flat kind"
            )
        log.info("training %s (nlist=%d) on %d vectors", self.kind, nlist, x.shape[0])
        self._index.train(x)
        self._apply_search_params()
        self._gpu_stale = True

    def train_size(self) -> int:
        """How many vectors :meth:`train` uses (a random sample when given more)."""
        size = int(self.params.get("train_size") or TRAIN_PER_LIST * int(self.params["nlist"]))
        if self.kind == "ivfpq":
            size = max(size, 64 * 2 ** int(self.params["nbits"]))  # PQ codebooks
        return size

    # -- mutation -----------------------------------------------------------

    def add(self, ids: Any, vectors: Any) -> None:
        """Add vectors under new ids. Ids must not be in the index already (remove
        them first): checking would cost a scan of the index per call."""
        ids = as_ids(ids)
        x = normalise(vectors, self.dim)
        if ids.size != x.shape[0]:
            raise IndexMismatch(f"{ids.size} ids for {x.shape[0]} vectors")
        if ids.size == 0:
            return
        if not self._index.is_trained:
            raise IndexMismatch(f"the {self.kind} index is not trained; build it first")
        if self.kind == "hnsw" and np.isin(ids, self._tombstones).any():
            self._compact()  # a tombstoned id coming back: drop the old vector for good
        self._index.add_with_ids(x, ids)
        self._gpu_stale = True

    def remove(self, ids: Any) -> int:
        """Remove ids (missing ones are ignored); returns how many were removed."""
        import faiss

        ids = np.unique(as_ids(ids))
        if ids.size == 0:
            return 0
        if self.kind == "hnsw":
            live = self.ids()
            gone = ids[np.isin(ids, live)]
            self._tombstones = np.union1d(self._tombstones, gone)
            if self._tombstones.size > COMPACT_FRACTION * max(1, self._index.ntotal):
                self._compact()
            self._gpu_stale = True
            return int(gone.size)
        n = int(self._index.remove_ids(faiss.IDSelectorBatch(ids.size, faiss.swig_ptr(ids))))
        self._gpu_stale = True
        return n

    def _compact(self) -> None:
        """Rebuild the HNSW graph from its stored vectors without the tombstones."""
        import faiss

        all_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        keep = ~np.isin(all_ids, self._tombstones)
        inner = faiss.downcast_index(self._index.index)
        x = inner.reconstruct_n(0, inner.ntotal)[keep] if inner.ntotal else None
        fresh = VectorIndex.empty(
            self.dim, space=self.space, kind="hnsw", **{k: self.params[k] for k in DEFAULTS["hnsw"]}
        )
        if x is not None and x.shape[0]:
            fresh._index.add_with_ids(x, all_ids[keep])
        log.info("compacted hnsw index: %d -> %d vectors", all_ids.size, int(keep.sum()))
        self._index = fresh._index
        self._tombstones = np.empty(0, np.int64)
        self._apply_search_params()
        self._gpu_stale = True

    # -- queries ------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal) - int(self._tombstones.size)

    def ids(self) -> np.ndarray:
        """All ids in the index, sorted."""
        import faiss

        if self.kind in ("flat", "hnsw"):
            all_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            if self._tombstones.size:
                all_ids = all_ids[~np.isin(all_ids, self._tombstones)]
            return np.sort(all_ids)
        ivf = faiss.extract_index_ivf(self._index)
        invlists = ivf.invlists
        parts = []
        for lst in range(ivf.nlist):
            size = invlists.list_size(lst)
            if size:
                ptr = invlists.get_ids(lst)
                parts.append(faiss.rev_swig_ptr(ptr, size).copy())
                invlists.release_ids(lst, ptr)
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)

    def id_stats(self) -> IdStats:
        return IdStats.of(self.ids())

    def set_search_params(self, **params: Any) -> None:
        """Change search-time parameters (``nprobe``, ``efSearch``, ``k_factor``)."""
        allowed = {"nprobe", "efSearch", "k_factor"} & set(DEFAULTS[self.kind])
        unknown = set(params) - allowed
        if unknown:
            raise IndexMismatch(f"not search parameters of a {self.kind} index: {sorted(unknown)}")
        self.params.update(params)
        self._apply_search_params()
        self._gpu_stale = True

    def _apply_search_params(self) -> None:
        import faiss

        if self.kind == "hnsw":
            faiss.downcast_index(self._index.index).hnsw.efSearch = int(self.params["efSearch"])
        elif self.kind in ("ivf", "ivfpq"):
            ivf = faiss.extract_index_ivf(self._index)
            ivf.nprobe = int(self.params["nprobe"])
            quantizer = faiss.downcast_index(ivf.quantizer)
            if isinstance(quantizer, faiss.IndexHNSW):
                quantizer.hnsw.efSearch = max(64, 2 * ivf.nprobe)

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best ids per query, best first: ``(scores, ids)``, both (nq, k).
        Scores are inner products (cosine); missing results have id -1 and score -inf.
        ivfpq re-ranks ``k * k_factor`` candidates with exact scores from ``refine``
        (without one the PQ estimates are returned)."""
        q = normalise(queries, self.dim)
        k = int(k)
        if k <= 0:
            raise ValueError("k must be positive")
        kk = k * int(self.params.get("k_factor", 1)) if self.refine is not None else k
        if self.kind == "ivfpq" and self.refine is None and not self._warned_no_refine:
            log.warning("ivfpq index of %s searched without re-ranking: recall suffers", self.space)
            self._warned_no_refine = True
        if self.device in ("cuda", "gpu"):
            kk = min(kk, max(k, GPU_MAX_K))
        scores, ids = self._raw_search(q, kk)
        if self.kind == "ivfpq" and self.refine is not None:
            scores, ids = self._rerank(q, ids, k)
        scores = scores[:, :k].astype(np.float32)
        ids = ids[:, :k].astype(np.int64)
        scores[ids < 0] = -np.inf
        return scores, ids

    def _raw_search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        gpu = self._gpu_index()
        if gpu is not None:
            scores, labels = gpu.search(q, k)
            if self.kind == "flat":  # the GPU copy holds the inner index: map rows to ids
                id_map = faiss.vector_to_array(self._index.id_map).astype(np.int64)
                labels = np.where(labels >= 0, id_map[np.maximum(labels, 0)], -1)
            return scores, labels
        if self.kind == "hnsw" and self._tombstones.size:
            # the selectors are made once per tombstone set and kept (SWIG does not keep
            # them alive): a search in another thread may be using them
            tomb = self._tombstones
            sel = getattr(self, "_tomb_selectors", None)
            if sel is None or sel[0] is not tomb:
                batch = faiss.IDSelectorBatch(tomb.size, faiss.swig_ptr(tomb))
                sel = (tomb, batch, faiss.IDSelectorNot(batch))
                self._tomb_selectors = sel
            sp = faiss.SearchParametersHNSW()
            sp.efSearch = int(self.params["efSearch"])
            sp.sel = sel[2]
            return self._index.search(q, k, params=sp)
        return self._index.search(q, k)

    def _rerank(self, q: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        assert self.refine is not None
        uniq = np.unique(cand[cand >= 0])
        out_s = np.full((q.shape[0], k), -np.inf, np.float32)
        out_i = np.full((q.shape[0], k), -1, np.int64)
        if uniq.size == 0:
            return out_s, out_i
        full = normalise(self.refine(uniq), self.dim)
        if full.shape[0] != uniq.size:
            raise IndexMismatch(f"refine returned {full.shape[0]} vectors for {uniq.size} ids")
        rows = np.searchsorted(uniq, np.maximum(cand, 0))
        for i in range(q.shape[0]):
            valid = cand[i] >= 0
            ci, ri = cand[i][valid], rows[i][valid]
            s = full[ri] @ q[i]
            top = np.argsort(-s, kind="stable")[:k]
            out_s[i, : top.size] = s[top]
            out_i[i, : top.size] = ci[top]
        return out_s, out_i

    # -- GPU ----------------------------------------------------------------

    def _gpu_index(self) -> Any:
        """The GPU copy of the index (made lazily), or None to search on the CPU."""
        if self.device not in ("cuda", "gpu"):
            return None
        if self._gpu is not None and not self._gpu_stale:
            return self._gpu
        import faiss

        self._gpu = None
        if faiss.get_num_gpus() == 0:
            log.warning("device %r asked for but FAISS sees no GPU; searching on CPU", self.device)
            self.device = "cpu"
            return None
        if self.kind == "hnsw" or (self.kind == "ivfpq" and int(self.params["nbits"]) == 4):
            log.warning("FAISS has no GPU version of this %s index; searching on CPU", self.kind)
            self.device = "cpu"
            return None
        inner = self._index.index if self.kind == "flat" else self._index
        try:
            co = faiss.GpuMultipleClonerOptions()
            co.useFloat16 = True  # fp16 storage / lookup tables: half the memory, same ranking
            self._gpu = faiss.index_cpu_to_all_gpus(inner, co)
            self._apply_gpu_params()
        except Exception as exc:  # noqa: BLE001 - any FAISS GPU failure falls back to CPU
            log.warning(
                "cannot move the %s index to the GPU (%s); searching on CPU", self.kind, exc
            )
            self.device = "cpu"
            self._gpu = None
            return None
        self._gpu_stale = False
        return self._gpu

    def _apply_gpu_params(self) -> None:
        import faiss

        if self.kind in ("ivf", "ivfpq"):
            faiss.GpuParameterSpace().set_index_parameter(
                self._gpu, "nprobe", int(self.params["nprobe"])
            )
