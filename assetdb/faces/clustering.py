"""Constrained density clustering of face embeddings (pure numpy/scipy; FAISS
for the neighbour graph when it is installed).

The method is DBSCAN over a k-nearest-neighbour graph: faces with at least
``min_samples`` neighbours (themselves included) within ``eps`` are core points,
core points closer than ``eps`` are linked, and the linked components are the
clusters; border faces join their nearest core neighbour's cluster. Components
are checked against cannot-link constraints (two faces of one frame; two
different anchors; a face rejected for an anchor) and only a violating component
is rebuilt edge by edge, shortest first (Kruskal), refusing unions that would
break a constraint. On the 70 labelled photos eps 0.5 / min_samples 1 gave
pairwise precision and recall 1.0 (``bench/faces.py`` measures it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

EPS = 0.5
# Within one asset (the shots of one video) faces link up to dlib's documented
# same-person threshold: a recurring face in one film is far likelier the same
# actor than a lookalike.
EPS_SAME_ASSET = 0.6
MIN_SAMPLES = 1
KNN_K = 24
# Above this many vectors the neighbour graph uses an approximate (IVF) index.
EXACT_KNN_MAX = 20_000
IVF_CELLS_PER_SQRT_N = 2
IVF_TRAIN_PER_CELL = 39
IVF_NPROBE = 4


def knn(x: np.ndarray, k: int, queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """L2 distances (not squared) and indices of the k nearest rows of ``x`` for
    each row of ``queries`` (default: ``x`` itself, self included)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    q = x if queries is None else np.ascontiguousarray(queries, dtype=np.float32)
    n = x.shape[0]
    k = max(1, min(k, n))
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is a dependency
        faiss = None
    if faiss is not None:
        d = x.shape[1]
        if n > EXACT_KNN_MAX:
            # IVF with an HNSW coarse quantizer: identities are tight clusters, so a
            # face's neighbours sit in its own or adjacent cells. Cheaper to build
            # than HNSW over all faces on two cores (bench/faces.py).
            nlist = int(IVF_CELLS_PER_SQRT_N * np.sqrt(n))
            index = faiss.IndexIVFFlat(faiss.IndexHNSWFlat(d, 32), d, nlist)
            index.cp.niter = 10
            rng = np.random.default_rng(0)
            index.train(x[rng.choice(n, min(n, IVF_TRAIN_PER_CELL * nlist), replace=False)])
            index.add(x)
            index.nprobe = IVF_NPROBE
        else:
            index = faiss.IndexFlatL2(d)
            index.add(x)
        dist, idx = index.search(q, k)
        return np.sqrt(np.maximum(dist, 0)), idx
    dist = np.empty((q.shape[0], k), np.float32)
    idx = np.empty((q.shape[0], k), np.int64)
    xx = (x * x).sum(1)
    for s in range(0, q.shape[0], 4096):
        qb = q[s : s + 4096]
        d2 = (qb * qb).sum(1)[:, None] + xx[None, :] - 2 * qb @ x.T
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        pd = np.take_along_axis(d2, part, 1)
        order = np.argsort(pd, axis=1)
        idx[s : s + 4096] = np.take_along_axis(part, order, 1)
        dist[s : s + 4096] = np.sqrt(np.maximum(np.take_along_axis(pd, order, 1), 0))
    return dist, idx


@dataclass
class Constraints:
    """Per-face constraints, all arrays of length n.

    frame_key: faces sharing a key (>= 0) were seen in one frame: never together.
    fixed: an anchor label (>= 0) the face must keep (user decisions, named persons).
    forbidden: face index -> labels it must not get (user rejections).
    seedable: may be a core point (quality above the floor).
    """

    frame_key: np.ndarray
    fixed: np.ndarray
    seedable: np.ndarray
    forbidden: dict[int, set[int]]
    group: np.ndarray | None = None  # asset per face (-1: none): eps_group applies inside

    @classmethod
    def none(cls, n: int) -> Constraints:
        return cls(
            frame_key=np.full(n, -1, np.int64),
            fixed=np.full(n, -1, np.int64),
            seedable=np.ones(n, bool),
            forbidden={},
        )

    def radius(self, rows: np.ndarray, cols: np.ndarray, eps: float, eps_group: float):
        """The linking distance of each (row, col) pair."""
        r = np.full(np.shape(rows), eps, np.float32)
        if self.group is not None and eps_group > eps:
            g = self.group
            same = (g[rows] == g[cols]) & (g[rows] >= 0)
            r[same] = eps_group
        return r


class _Groups:
    """Union-find whose groups carry their frame keys, anchor and forbidden labels."""

    def __init__(self, members: np.ndarray, c: Constraints) -> None:
        self.parent = {int(i): int(i) for i in members}
        self.keys = {
            int(i): ({int(c.frame_key[i])} if c.frame_key[i] >= 0 else set()) for i in members
        }
        self.anchor = {int(i): int(c.fixed[i]) for i in members}
        self.forbid = {int(i): set(c.forbidden.get(int(i), ())) for i in members}
        self.size = {int(i): 1 for i in members}

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def allowed(self, a: int, b: int) -> bool:
        aa, ab = self.anchor[a], self.anchor[b]
        if aa >= 0 and ab >= 0 and aa != ab:
            return False
        if aa >= 0 and aa in self.forbid[b] or ab >= 0 and ab in self.forbid[a]:
            return False
        small, big = (self.keys[a], self.keys[b])
        if len(small) > len(big):
            small, big = big, small
        return not any(k in big for k in small)

    def union(self, a: int, b: int, force: bool = False) -> bool:
        a, b = self.find(a), self.find(b)
        if a == b:
            return True
        if not force and not self.allowed(a, b):
            return False
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        self.keys[a] |= self.keys.pop(b)
        self.forbid[a] |= self.forbid.pop(b)
        if self.anchor[a] < 0:
            self.anchor[a] = self.anchor[b]
        return True


def _component_violates(members: np.ndarray, c: Constraints) -> bool:
    keys = c.frame_key[members]
    keys = keys[keys >= 0]
    if len(keys) != len(np.unique(keys)):
        return True
    anchors = np.unique(c.fixed[members])
    anchors = anchors[anchors >= 0]
    if len(anchors) > 1:
        return True
    if len(anchors) == 1 and c.forbidden:
        a = int(anchors[0])
        return any(a in c.forbidden.get(int(i), ()) for i in members)
    return False


def cluster(
    x: np.ndarray,
    constraints: Constraints | None = None,
    *,
    eps: float = EPS,
    min_samples: int = MIN_SAMPLES,
    k: int = KNN_K,
    eps_group: float = EPS_SAME_ASSET,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster the rows of ``x``. Returns (labels, confidence): labels are
    0..m-1 per cluster or -1 (noise); a cluster that holds anchor faces is the
    only one holding them. Confidence is 1 - (distance to the nearest linked
    neighbour) / eps, 0 for noise."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = x.shape[0]
    c = constraints or Constraints.none(n)
    labels = np.full(n, -1, np.int64)
    conf = np.zeros(n, np.float32)
    if n == 0:
        return labels, conf
    dist, idx = knn(x, min(k + 1, n))
    rad = c.radius(
        np.repeat(np.arange(n)[:, None], idx.shape[1], 1), np.maximum(idx, 0), eps, eps_group
    )
    valid = (idx >= 0) & (dist < rad)
    neighbours = valid.sum(1)  # self included
    core = c.seedable & (neighbours >= min_samples)
    rows = np.repeat(np.arange(n), dist.shape[1])
    cols = idx.ravel()
    d = dist.ravel()
    m = valid.ravel() & (rows != cols)
    rows, cols, d = rows[m], cols[m], d[m]
    rad_e = rad.ravel()[m]
    cc = core[rows] & core[cols]
    er, ec, ed = rows[cc], cols[cc], d[cc]
    # Anchored faces are linked to each other whatever their distance.
    fixed_idx = np.flatnonzero(c.fixed >= 0)
    if len(fixed_idx):
        order = fixed_idx[np.argsort(c.fixed[fixed_idx], kind="stable")]
        same = c.fixed[order[1:]] == c.fixed[order[:-1]]
        er = np.concatenate([er, order[1:][same]])
        ec = np.concatenate([ec, order[:-1][same]])
        ed = np.concatenate([ed, np.zeros(int(same.sum()), np.float32)])
    graph = coo_matrix((np.ones(len(er), np.int8), (er, ec)), shape=(n, n))
    ncomp, comp = connected_components(graph, directed=False)
    in_cluster = core | (c.fixed >= 0)
    comp_sizes = np.bincount(comp, minlength=ncomp)
    # Components whose members break a constraint are rebuilt edge by edge.
    order = np.argsort(comp, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(comp_sizes)])
    next_label = 0
    edge_comp = comp[er]
    multi = comp_sizes > 1
    bad = []
    for ci in np.flatnonzero(multi):
        members = order[bounds[ci] : bounds[ci + 1]]
        if _component_violates(members, c):
            bad.append(ci)
    bad_set = {int(b) for b in bad}
    comp_label = np.full(ncomp, -1, np.int64)
    for ci in range(ncomp):
        if ci in bad_set:
            continue
        members = order[bounds[ci] : bounds[ci + 1]]
        if in_cluster[members].any():
            comp_label[ci] = next_label
            next_label += 1
    labels = np.where(in_cluster, comp_label[comp], -1)
    for ci in bad:
        members = order[bounds[ci] : bounds[ci + 1]]
        g = _Groups(members, c)
        # user/anchor faces first (forced), then edges shortest first
        fm = members[c.fixed[members] >= 0]
        by_anchor: dict[int, int] = {}
        for i in fm:
            a = int(c.fixed[i])
            if a in by_anchor:
                g.union(by_anchor[a], int(i), force=True)
            else:
                by_anchor[a] = int(i)
        sel = np.flatnonzero(edge_comp == ci)
        sel = sel[np.argsort(ed[sel], kind="stable")]
        for e in sel:
            g.union(int(er[e]), int(ec[e]))
        roots: dict[int, int] = {}
        for i in members:
            if not in_cluster[i]:
                continue
            r = g.find(int(i))
            if r not in roots:
                roots[r] = next_label
                next_label += 1
            labels[i] = roots[r]
    # Confidence of cluster members: nearest same-cluster neighbour.
    same_lab = (labels[rows] == labels[cols]) & (labels[rows] >= 0)
    best = np.full(n, np.inf, np.float32)
    np.minimum.at(best, rows[same_lab], (d / rad_e)[same_lab])
    has = np.isfinite(best)
    conf[has] = 1.0 - best[has]
    conf[(labels >= 0) & ~has] = 1.0  # a singleton or an anchor-only link
    # Border faces: nearest clustered neighbour whose cluster accepts them.
    border = np.flatnonzero(~in_cluster)
    if len(border):
        members_keys: dict[int, set[int]] = {}
        anchor_of: dict[int, int] = {}
        for i in np.flatnonzero(labels >= 0):
            lab = int(labels[i])
            if c.frame_key[i] >= 0:
                members_keys.setdefault(lab, set()).add(int(c.frame_key[i]))
            if c.fixed[i] >= 0:
                anchor_of[lab] = int(c.fixed[i])
        for i in border:
            for j, dj, rj in zip(idx[i], dist[i], rad[i], strict=True):
                if j < 0 or j == i or dj >= rj or labels[j] < 0 or not in_cluster[j]:
                    continue
                lab = int(labels[j])
                key = int(c.frame_key[i])
                if key >= 0 and key in members_keys.get(lab, ()):
                    continue
                if anchor_of.get(lab, -1) in c.forbidden.get(int(i), ()):
                    continue
                labels[i] = lab
                conf[i] = 1.0 - dj / rj
                if key >= 0:
                    members_keys.setdefault(lab, set()).add(key)
                break
    return labels, conf


def pairwise_scores(labels: np.ndarray, truth: list) -> dict[str, float]:
    """Pairwise precision/recall/F1 and BCubed precision/recall/F of a
    clustering against ground truth; noise (-1) counts as singletons."""
    n = len(truth)
    lab = np.array([int(v) if v >= 0 else -1 - i for i, v in enumerate(labels)])
    _, t = np.unique(np.array(truth, dtype=object).astype(str), return_inverse=True)
    same_c = lab[:, None] == lab[None, :]
    same_t = t[:, None] == t[None, :]
    iu = np.triu_indices(n, 1)
    tp = int((same_c & same_t)[iu].sum())
    fp = int((same_c & ~same_t)[iu].sum())
    fn = int((~same_c & same_t)[iu].sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    inter = (same_c & same_t).sum(1)
    bp = float(np.mean(inter / same_c.sum(1)))
    br = float(np.mean(inter / same_t.sum(1)))
    return {
        "pairwise_precision": p,
        "pairwise_recall": r,
        "pairwise_f1": 2 * p * r / (p + r) if p + r else 0.0,
        "bcubed_precision": bp,
        "bcubed_recall": br,
        "bcubed_f": 2 * bp * br / (bp + br) if bp + br else 0.0,
        "clusters": len(np.unique(lab)),
    }


def assign_incremental(
    x: np.ndarray,
    person: np.ndarray,
    todo: np.ndarray,
    constraints: Constraints | None = None,
    *,
    eps: float = EPS,
    min_samples: int = MIN_SAMPLES,
    chunk: int = 512,
    first_label: int | None = None,
    eps_group: float = EPS_SAME_ASSET,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Incremental assignment of the rows ``todo`` (new faces) among all rows.

    ``person`` holds a label per row (-1: none) and is updated in place. The new
    rows, their neighbours within ``eps`` and the still unassigned rows among
    those are clustered together (``cluster``: core points need ``min_samples``
    rows within ``eps``, themselves included) with every assigned neighbour
    fixed to its label, so a new face joins the person of its nearest
    confident neighbours (Immich's core-point rule, applied to the batch at
    once so the order of arrival does not matter), new faces that only group
    among themselves start a new label (from ``first_label``, default max + 1),
    and existing persons are never merged. A new face never gets a label that
    already has a face in its frame, nor one it was rejected for. Returns
    (person, confidence, new label count)."""
    n = x.shape[0]
    c = constraints or Constraints.none(n)
    conf = np.zeros(n, np.float32)
    todo = np.unique(np.asarray(todo, np.int64))
    todo = todo[person[todo] < 0]
    next_label = int(person.max()) + 1 if n else 0
    if first_label is not None:
        next_label = max(next_label, first_label)
    if not len(todo):
        return person, conf, 0
    xx = (x * x).sum(1)
    # Keep each block of distances near 256 MB whatever the archive size.
    chunk = max(1, min(chunk, (1 << 26) // max(n, 1)))
    near: list[np.ndarray] = [todo]
    for s in range(0, len(todo), chunk):
        q = x[todo[s : s + chunk]]
        d2 = (q * q).sum(1)[:, None] + xx[None, :] - 2 * (q @ x.T)
        reach = max(eps, eps_group) if c.group is not None else eps
        near.append(np.flatnonzero((d2 < reach * reach).any(axis=0)))
    sub = np.unique(np.concatenate(near))
    pos = {int(r): k for k, r in enumerate(sub)}
    # Labels already present in a new face's frame are forbidden for it, even
    # when that face is too far to be in the neighbourhood.
    frame_labels: dict[int, set[int]] = {}
    keys = c.frame_key
    todo_keys = {int(k) for k in keys[todo] if k >= 0}
    if todo_keys:
        for i in np.flatnonzero((person >= 0) & np.isin(keys, list(todo_keys))):
            frame_labels.setdefault(int(keys[i]), set()).add(int(person[i]))
    forbidden: dict[int, set[int]] = {}
    for r in sub:
        bad = set(c.forbidden.get(int(r), ()))
        if person[r] < 0 and keys[r] >= 0:
            bad |= frame_labels.get(int(keys[r]), set())
        if bad:
            forbidden[pos[int(r)]] = bad
    sc = Constraints(
        frame_key=keys[sub],
        fixed=np.where(person[sub] >= 0, person[sub], -1),
        seedable=c.seedable[sub],
        forbidden=forbidden,
        group=None if c.group is None else c.group[sub],
    )
    labels, sconf = cluster(x[sub], sc, eps=eps, min_samples=min_samples, eps_group=eps_group)
    label_person: dict[int, int] = {}
    for k in np.flatnonzero(sc.fixed >= 0):
        if labels[k] >= 0:
            label_person[int(labels[k])] = int(sc.fixed[k])
    created = 0
    for k, r in enumerate(sub):
        if person[r] >= 0 or labels[k] < 0:
            continue
        lab = int(labels[k])
        if lab not in label_person:
            label_person[lab] = next_label
            next_label += 1
            created += 1
        person[r] = label_person[lab]
        conf[r] = sconf[k]
    return person, conf, created
