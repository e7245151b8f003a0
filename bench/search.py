"""Vector index benchmark: every VectorIndex kind at --n, the compressed kind
(ivfpq + exact re-rank from a disk memmap) at --big, against a brute-force numpy
scan (what small CLIP search tools do) measured in the same run.

Data: synthetic 512-d unit vectors with cluster structure: a few thousand cluster
centres (themselves grouped around 64 "topics"), each cluster a Gaussian with a
low-rank (16-d) covariance of varied spread plus isotropic noise, cluster sizes
drawn from a Dirichlet; queries are data points plus noise. Rows are generated
chunk by chunk from per-chunk seeds, so --big never holds all vectors in memory:
the full vectors go to a float32 memmap under --dir (deleted at the end), which
also serves the exact re-ranking and the streamed ground-truth scan.

    python bench/search.py [--n 1000000] [--big 10000000] [--quick]
"""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting are ruinous on a shared, oversubscribed
# machine; must be set before faiss/numpy load their runtimes
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import gc
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assetdb.index import VectorIndex, memmap_refine

DIM = 512
K = 10
CHUNK = 100_000
RANK = 16


class Mixture:
    """A fixed mixture of low-rank Gaussians on the unit sphere."""

    def __init__(self, n_clusters: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        topics = _unit(rng.standard_normal((64, DIM), dtype=np.float32))
        t = rng.integers(0, 64, n_clusters)
        self.centres = _unit(
            topics[t] + 0.8 * _unit(rng.standard_normal((n_clusters, DIM), dtype=np.float32))
        )
        # offsets z @ basis have norm ~1 before scaling by the cluster's spread
        self.bases = rng.standard_normal((n_clusters, RANK, DIM), dtype=np.float32) / np.float32(
            np.sqrt(DIM * RANK)
        )
        self.spread = rng.uniform(0.3, 0.9, n_clusters).astype(np.float32)
        self.weights = rng.dirichlet(np.full(n_clusters, 2.0))
        self.noise = 0.25
        self.seed = seed

    def chunk(self, index: int, size: int) -> np.ndarray:
        """Rows [index*CHUNK, index*CHUNK+size): the same rows for the same index."""
        rng = np.random.default_rng((self.seed, index))
        lab = np.sort(rng.choice(len(self.weights), size, p=self.weights))
        x = self.centres[lab]
        z = rng.standard_normal((size, RANK), dtype=np.float32)
        bounds = np.flatnonzero(np.diff(lab)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, size], strict=True):
            c = lab[lo]
            x[lo:hi] += (z[lo:hi] @ self.bases[c]) * self.spread[c]
        x += rng.standard_normal((size, DIM), dtype=np.float32) * np.float32(
            self.noise / np.sqrt(DIM)
        )
        return _unit(x[rng.permutation(size)])


def _unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def write_memmap(mix: Mixture, n: int, path: Path) -> np.memmap:
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, DIM))
    for ci, start in enumerate(range(0, n, CHUNK)):
        size = min(CHUNK, n - start)
        mm[start : start + size] = mix.chunk(ci, size)
    mm.flush()
    return np.memmap(path, dtype=np.float32, mode="r", shape=(n, DIM))


def make_queries(data: np.ndarray, nq: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(data.shape[0], nq, replace=False))
    q = np.asarray(data[rows]) + rng.standard_normal((nq, DIM), dtype=np.float32) * np.float32(
        0.15 / np.sqrt(DIM)
    )
    return _unit(q)


def exact_topk(data: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    """Exact top-k ids (row numbers) by a streamed scan over chunks of ``data``."""
    best_s = np.full((q.shape[0], k), -np.inf, np.float32)
    best_i = np.full((q.shape[0], k), -1, np.int64)
    for start in range(0, data.shape[0], CHUNK):
        block = np.asarray(data[start : start + CHUNK])
        s = q @ block.T
        part = np.argpartition(-s, k, axis=1)[:, :k]
        cs = np.take_along_axis(s, part, axis=1)
        allsc = np.concatenate([best_s, cs], axis=1)
        alli = np.concatenate([best_i, part + start], axis=1)
        top = np.argsort(-allsc, axis=1)[:, :k]
        best_s = np.take_along_axis(allsc, top, axis=1)
        best_i = np.take_along_axis(alli, top, axis=1)
    return best_i


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / truth.shape[1] for f, t in zip(found, truth, strict=True)])
    )


def rss() -> int:
    return psutil.Process().memory_info().rss


def index_bytes(index: VectorIndex, tmpdir: Path) -> int:
    import faiss

    path = tmpdir / "size.faiss"
    faiss.write_index(index._index, str(path))
    size = path.stat().st_size
    path.unlink()
    return size


def time_queries(search, q: np.ndarray, n_single: int) -> tuple[float, float, float, np.ndarray]:
    """p50, p99 (ms) of single queries (one thread: a server answers concurrent queries
    on separate threads), batch throughput (q/s, all threads) and the batch's ids."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    lat = []
    for i in range(min(n_single, q.shape[0])):
        t = time.perf_counter()
        search(q[i : i + 1])
        lat.append(time.perf_counter() - t)
    faiss.omp_set_num_threads(threads)
    t = time.perf_counter()
    ids = search(q)
    qps = q.shape[0] / (time.perf_counter() - t)
    return float(np.percentile(lat, 50) * 1e3), float(np.percentile(lat, 99) * 1e3), qps, ids


class Table:
    def __init__(self):
        self.rows: list[tuple] = []
        self.base_ms: dict[int, float] = {}

    def add(self, n, name, build_s, ram_b, idx_b, p50, p99, qps, rec):
        self.rows.append((n, name, build_s, ram_b, idx_b, p50, p99, qps, rec))
        print("  " + self.format(self.rows[-1]), file=sys.stderr, flush=True)

    def format(self, row) -> str:
        n, name, build_s, ram_b, idx_b, p50, p99, qps, rec = row
        ratio = self.base_ms.get(n, float("nan")) / p50
        return (
            f"{n:>10} {name:<34} {build_s:>8.1f} {ram_b:>9.0f} {idx_b:>9.0f} {p50:>8.3f} "
            f"{p99:>8.3f} {ratio:>8.1f} {qps:>9.0f} {rec:>6.3f}"
        )

    def print(self):
        head = (
            f"{'n':>10} {'index':<34} {'build s':>8} {'RSS B/vec':>9} {'idx B/vec':>9} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'x numpy':>8} {'batch q/s':>9} {'R@10':>6}"
        )
        print(head)
        print("-" * len(head))
        for row in self.rows:
            print(self.format(row))


def numpy_baseline(
    table: Table, data: np.ndarray, q: np.ndarray, truth: np.ndarray, n_single: int
) -> None:
    n = data.shape[0]

    def scan(qs):
        return np.argpartition(-(qs @ data.T), K, axis=1)[:, :K]

    p50, p99, qps, ids = time_queries(scan, q[: max(n_single, 20)], n_single)
    table.base_ms[n] = p50
    table.add(
        n,
        "numpy brute-force scan",
        0.0,
        0,
        DIM * 4,
        p50,
        p99,
        qps,
        recall(ids, truth[: ids.shape[0]]),
    )


def bench_index(table, n, name, build, q, truth, tmpdir, n_single, sweep):
    gc.collect()
    r0 = rss()
    t0 = time.perf_counter()
    index = build()
    build_s = time.perf_counter() - t0
    ram = (rss() - r0) / n
    idx_b = index_bytes(index, tmpdir) / n
    for params in sweep:
        if params:
            index.set_search_params(**params)
        label = name + (" " + " ".join(f"{k}={v}" for k, v in params.items()) if params else "")
        p50, p99, qps, ids = time_queries(lambda qs: index.search(qs, K)[1], q, n_single)
        table.add(n, label, build_s, ram, idx_b, p50, p99, qps, recall(ids, truth))


def run_in_memory(table, args, tmpdir):
    import faiss

    n = args.n
    mix = Mixture(args.clusters)
    print(f"[{n}] generating {n} x {DIM} vectors", file=sys.stderr, flush=True)
    mm = write_memmap(mix, n, tmpdir / "full.f32")  # also the ivfpq re-rank source
    data = np.array(mm)  # in RAM
    ids = np.arange(n, dtype=np.int64)
    q = make_queries(data, args.queries)
    truth = exact_topk(data, q)
    # sanity: FAISS exact search agrees with the numpy ground truth
    flat = faiss.IndexFlatIP(DIM)
    flat.add(data[: min(n, 200_000)])
    _, fi = flat.search(q, K)
    assert recall(fi, exact_topk(data[: min(n, 200_000)], q)) > 0.999
    del flat
    numpy_baseline(table, data, q, truth, args.single)
    kinds = args.kinds.split(",")
    nlist = args.nlist
    if "flat" in kinds:
        bench_index(
            table,
            n,
            "flat (exact)",
            lambda: VectorIndex.build(ids, data, space="bench", kind="flat"),
            q,
            truth,
            tmpdir,
            args.single,
            [{}],
        )
    if "hnsw" in kinds:
        bench_index(
            table,
            n,
            "hnsw M=32 efC=40",
            lambda: VectorIndex.build(ids, data, space="bench", kind="hnsw"),
            q,
            truth,
            tmpdir,
            args.single,
            [{"efSearch": e} for e in (32, 64, 128)],
        )
    if "ivf" in kinds:
        bench_index(
            table,
            n,
            f"ivf nlist={nlist}",
            lambda: VectorIndex.build(ids, data, space="bench", kind="ivf", nlist=nlist),
            q,
            truth,
            tmpdir,
            args.single,
            [{"nprobe": p} for p in (16, 32, 64)],
        )
    if "ivfpq" in kinds:
        refine = memmap_refine(tmpdir / "full.f32", DIM)
        bench_index(
            table,
            n,
            f"ivfpq nlist={nlist} PQ64x8 +rerank",
            lambda: VectorIndex.build(
                ids, data, space="bench", kind="ivfpq", nlist=nlist, m=64, nbits=8, refine=refine
            ),
            q,
            truth,
            tmpdir,
            args.single,
            [
                {"nprobe": 16, "k_factor": 10},
                {"nprobe": 32, "k_factor": 10},
                {"nprobe": 32, "k_factor": 20},
            ],
        )
    (tmpdir / "full.f32").unlink()


def run_big(table, args, tmpdir):
    n = args.big
    mix = Mixture(args.clusters)
    path = tmpdir / "big.f32"
    print(f"[{n}] generating {n} x {DIM} vectors to {path}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, DIM))
    gc.collect()
    r0 = rss()
    nlist = args.big_nlist
    index = VectorIndex.empty(DIM, space="bench", kind="ivfpq", nlist=nlist, m=64, nbits=8)
    train_rows = index.train_size()
    first = []
    build_s = 0.0
    gen_s = 0.0
    for ci, start in enumerate(range(0, n, CHUNK)):
        size = min(CHUNK, n - start)
        tg = time.perf_counter()
        x = mix.chunk(ci, size)
        mm[start : start + size] = x
        gen_s += time.perf_counter() - tg
        tb = time.perf_counter()
        if not index._index.is_trained:
            first.append((start, x))
            if sum(f[1].shape[0] for f in first) >= min(n, train_rows) or start + size == n:
                index.train(np.concatenate([f[1] for f in first]))
                for s, xs in first:
                    index.add(np.arange(s, s + xs.shape[0]), xs)
                first = []
        else:
            index.add(np.arange(start, start + size), x)
        build_s += time.perf_counter() - tb
        del x
        if ci % 10 == 0:
            print(
                f"  {start + size}/{n} gen {gen_s:.0f}s build {build_s:.0f}s",
                file=sys.stderr,
                flush=True,
            )
    mm.flush()
    del mm
    gc.collect()
    ram_built = (rss() - r0) / n
    idx_b = index_bytes(index, tmpdir) / n
    # what a search process holds: the index as loaded from its file (a freshly built one
    # also carries the slack of inverted lists grown by doubling)
    index.save(tmpdir / "big.faiss")
    del index
    gc.collect()
    r1 = rss()
    index = VectorIndex.load(tmpdir / "big.faiss", space="bench")
    ram = (rss() - r1) / n
    print(
        f"  RSS per vector: {ram_built:.0f} B as built, {ram:.0f} B as loaded",
        file=sys.stderr,
        flush=True,
    )
    data = np.memmap(path, dtype=np.float32, mode="r", shape=(n, DIM))
    q = make_queries(data, args.queries)
    tg = time.perf_counter()
    truth = exact_topk(data, q)
    print(
        f"  ground truth by streamed scan: {time.perf_counter() - tg:.0f}s; "
        f"generation {gen_s:.0f}s; total so far {time.perf_counter() - t0:.0f}s",
        file=sys.stderr,
        flush=True,
    )
    # numpy baseline at this size: a streamed scan of the memmap (it does not fit in RAM)
    lat = []
    for i in range(2):  # each reads the whole memmap from disk
        t = time.perf_counter()
        exact_topk(data, q[i : i + 1])
        lat.append(time.perf_counter() - t)
    table.base_ms[n] = float(np.median(lat) * 1e3)
    table.add(
        n,
        "numpy streamed scan (memmap)",
        0.0,
        0,
        DIM * 4,
        table.base_ms[n],
        max(lat) * 1e3,
        1 / np.median(lat),
        1.0,
    )
    index.refine = memmap_refine(path, DIM)
    index.search(q[:50], K)  # warm the page cache a little (first row otherwise all cold)
    for params in (
        {"nprobe": 16, "k_factor": 10},
        {"nprobe": 16, "k_factor": 20},
        {"nprobe": 32, "k_factor": 20},
    ):
        index.set_search_params(**params)
        label = f"ivfpq nlist={nlist} PQ64x8 +rerank(disk) " + " ".join(
            f"{k}={v}" for k, v in params.items()
        )
        p50, p99, qps, ids = time_queries(lambda qs: index.search(qs, K)[1], q, args.single)
        table.add(n, label, build_s, ram, idx_b, p50, p99, qps, recall(ids, truth))
    path.unlink()


def main() -> None:
    import faiss

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=10_000_000, help="0 skips the big run")
    ap.add_argument("--quick", action="store_true", help="100k and 300k, for a smoke run")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--single", type=int, default=200, help="queries timed one by one")
    ap.add_argument("--clusters", type=int, default=3000)
    ap.add_argument("--nlist", type=int, default=2048)
    ap.add_argument("--big-nlist", type=int, default=2048)
    ap.add_argument("--kinds", default="flat,hnsw,ivf,ivfpq")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/assetdb-bench"))
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still delete the memmap
    if args.quick:
        args.n, args.big, args.nlist, args.big_nlist = 100_000, 300_000, 1024, 512
        args.queries, args.single = 200, 100
    faiss.omp_set_num_threads(args.threads)
    args.dir.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(dir=args.dir))
    table = Table()
    t0 = time.time()
    try:
        if args.n:
            run_in_memory(table, args, tmpdir)
        if args.big:
            run_big(table, args, tmpdir)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    print(
        f"\nassetdb bench/search.py: dim {DIM}, k={K}, {args.queries} queries "
        f"({args.single} timed singly), {args.clusters} clusters, faiss "
        f"{faiss.__version__}, {args.threads} threads, {os.cpu_count()} cores, "
        f"{time.time() - t0:.0f}s total"
    )
    print(
        "RSS B/vec: resident-memory growth while building / n; idx B/vec: serialized "
        "index / n; x numpy: numpy scan p50 / this p50"
    )
    table.print()


if __name__ == "__main__":
    main()
