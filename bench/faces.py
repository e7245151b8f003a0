"""Faces benchmark: detection + embedding speed on real photos (CPU), and
clustering time / peak memory / quality on synthetic identity-structured
128-d embeddings at 10k, 100k and 1M faces, incremental and full, with
baselines measured in the same run.

    PYTHONPATH=$PWD python bench/faces.py [--sizes 10000,100000,1000000] [--photos 24]

Every clustering measurement runs in its own subprocess so that peak RSS
(``ru_maxrss``) belongs to that one task.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = next(
    (
        p
        for p in (REPO / ".." / "shared" / "data", REPO / ".." / ".." / "shared" / "data")
        if p.is_dir()
    ),
    REPO / ".." / "shared" / "data",
)
NEW_FACES = 1000  # faces assigned incrementally on top of an existing archive
SKLEARN_MAX = 100_000


# --------------------------------------------------------------------------- data


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n faces of about n/20 identities (Zipf-like sizes) plus 5% strangers seen
    once. Centres ~0.88 apart, same-identity faces ~0.41 apart: the distances
    dlib's ResNet gives (same person 0.3-0.5, different 0.7-1.0)."""
    rng = np.random.default_rng(seed)
    n_known = int(n * 0.95)
    n_ids = max(1, n_known // 20)
    w = 1.0 / np.arange(1, n_ids + 1) ** 0.8
    sizes = np.maximum(1, np.floor(w / w.sum() * n_known)).astype(np.int64)
    sizes[0] += n_known - sizes.sum()
    y = np.repeat(np.arange(n_ids), sizes)
    n_strangers = n - len(y)
    y = np.concatenate([y, np.arange(n_ids, n_ids + n_strangers)])
    centres = rng.standard_normal((n_ids + n_strangers, 128), dtype=np.float32)
    centres *= 0.62 / np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[y]
    x += rng.standard_normal(x.shape, dtype=np.float32) * np.float32(0.29 / np.sqrt(128))
    perm = rng.permutation(n)
    return np.ascontiguousarray(x[perm]), y[perm]


def scores(labels: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pairwise precision/recall and BCubed F from the contingency table
    (noise counts as singletons)."""
    lab = labels.astype(np.int64).copy()
    noise = lab < 0
    lab[noise] = lab.max() + 1 + np.arange(noise.sum())
    _, li = np.unique(lab, return_inverse=True)
    _, ti = np.unique(truth, return_inverse=True)
    pair, cnt = np.unique(li * (ti.max() + 1) + ti, return_counts=True)
    cl = np.bincount(li)
    tr = np.bincount(ti)
    tp = float((cnt * (cnt - 1) / 2).sum())
    pc = float((cl * (cl - 1) / 2).sum())
    pt = float((tr * (tr - 1) / 2).sum())
    # BCubed: each item contributes n_ij/|C| and n_ij/|L|; n_ij items share a cell.
    pl = pair // (ti.max() + 1)
    pt_ = pair % (ti.max() + 1)
    n = len(labels)
    bp = float((cnt * cnt / cl[pl]).sum() / n)
    br = float((cnt * cnt / tr[pt_]).sum() / n)
    return {
        "precision": tp / pc if pc else 1.0,
        "recall": tp / pt if pt else 1.0,
        "bcubed_f": 2 * bp * br / (bp + br),
    }


# --------------------------------------------------------------------------- workers


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(task: str, n: int) -> dict:
    from assetdb.faces import Constraints, assign_incremental, cluster

    x, y = synthetic(n)
    base = _rss_mb()
    out: dict = {"task": task, "n": n}
    t0 = time.perf_counter()
    if task == "recluster":
        labels, _ = cluster(x, Constraints.none(n))
        out.update(scores(labels, y))
    elif task == "sklearn_dbscan":
        from sklearn.cluster import DBSCAN

        labels = DBSCAN(eps=0.5, min_samples=1).fit(x).labels_
        out.update(scores(labels, y))
    elif task == "incremental":
        # An archive of n faces already grouped by identity; NEW_FACES more of the
        # same population arrive (known people and strangers).
        xa, ya = synthetic(n + NEW_FACES)
        person = ya.astype(np.int64).copy()
        person[n:] = -1
        todo = np.arange(n, n + NEW_FACES)
        known = np.isin(ya[n:], ya[:n])
        base = _rss_mb()
        t0 = time.perf_counter()
        got, _, created = assign_incremental(xa, person, todo, Constraints.none(len(xa)))
        dt = time.perf_counter() - t0
        out["per_face_ms"] = dt / NEW_FACES * 1000
        out["new_persons"] = int(created)
        joined = np.isin(got[n:], ya[:n])  # joined an existing person
        # precision: of faces that joined a person, the right one; recall: of faces
        # whose person exists, joined it
        out["precision"] = float(np.mean(got[n:][joined] == ya[n:][joined]))
        out["recall"] = float(np.mean(got[n:][known] == ya[n:][known]))
        out["bcubed_f"] = float("nan")
        del xa
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mb"] = _rss_mb()
    out["data_mb"] = x.nbytes / 2**20
    out["rss_before_mb"] = base
    return out


def run_worker(task: str, n: int, timeout_s: int) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", task, str(n)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    try:
        r = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"task": task, "n": n, "error": f"> {timeout_s} s"}
    if r.returncode != 0:
        return {"task": task, "n": n, "error": r.stderr.strip().splitlines()[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- detection


def bench_detection(n_photos: int) -> list[dict]:
    """Faces/s of detect+align+embed on real photos: the extractor's policy
    (long side <= DETECT_MAX_PX, upsample only small frames) against the common
    default (full resolution, upsample 1)."""
    import csv

    import indexer.extractors.faces as fx
    from assetdb.media.images import load_rgb
    from assetdb.models.faces import FaceModels

    rows = list(csv.DictReader((SHARED / "faces" / "labels.csv").open()))
    step = max(1, len(rows) // n_photos)
    files = [SHARED / "faces" / "labeled" / r["file"] for r in rows[::step][:n_photos]]
    images = [load_rgb(f) for f in files]
    models = FaceModels.shared("hog").load()
    out = []
    for label, max_px, upsample in (
        ("policy", fx.DETECT_MAX_PX, None),
        ("full-res, upsample 1", 100_000, 1),
    ):
        old = fx.DETECT_MAX_PX, fx.choose_upsample
        fx.DETECT_MAX_PX = max_px
        if upsample is not None:
            fx.choose_upsample = lambda w, h, u=upsample: u
        try:
            t0 = time.perf_counter()
            faces = sum(len(fx.analyse_frame(models, im)) for im in images)
            dt = time.perf_counter() - t0
        finally:
            fx.DETECT_MAX_PX, fx.choose_upsample = old
        mp = float(np.mean([im.shape[0] * im.shape[1] for im in images])) / 1e6
        out.append(
            {
                "method": label,
                "photos": len(images),
                "mean_mp": mp,
                "faces": faces,
                "seconds": dt,
                "faces_per_s": faces / dt,
            }
        )
    return out


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--timeout", type=int, default=1800, help="per clustering task, seconds")
    ap.add_argument("--worker", nargs=2, metavar=("TASK", "N"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], int(a.worker[1]))))
        return
    import faiss

    print(f"# faces bench  cpus={os.cpu_count()}  faiss threads={faiss.omp_get_max_threads()}")
    sizes = [int(s) for s in a.sizes.split(",")]
    results = []
    for n in sizes:
        for task in ("recluster", "incremental", "sklearn_dbscan"):
            if task == "sklearn_dbscan" and n > SKLEARN_MAX:
                continue
            r = run_worker(task, n, a.timeout)
            results.append(r)
            print(f"  done {task} n={n}: {r.get('seconds', r.get('error'))}", file=sys.stderr)
    print("\n## clustering synthetic identity-structured embeddings (eps 0.5, min_samples 1)")
    print(
        f"{'task':<16} {'n':>9} {'s':>9} {'ms/face':>8} {'peak MB':>8} {'data MB':>8} "
        f"{'P':>6} {'R':>6} {'BCubF':>6}"
    )
    by = {(r["task"], r["n"]): r for r in results}
    for r in results:
        if "error" in r:
            print(f"{r['task']:<16} {r['n']:>9} {r['error']}")
            continue
        ms = r.get("per_face_ms", r["seconds"] / r["n"] * 1000)
        print(
            f"{r['task']:<16} {r['n']:>9} {r['seconds']:>9.2f} {ms:>8.3f} "
            f"{r['peak_rss_mb']:>8.0f} {r['data_mb']:>8.0f} "
            f"{r.get('precision', float('nan')):>6.3f} {r.get('recall', float('nan')):>6.3f} "
            f"{r.get('bcubed_f', float('nan')):>6.3f}"
        )
    print("\nbaseline ratios (sklearn DBSCAN time / our recluster time, same n):")
    for n in sizes:
        ours, sk = by.get(("recluster", n)), by.get(("sklearn_dbscan", n))
        if ours and sk and "error" not in ours and "error" not in sk:
            print(
                f"  n={n}: {sk['seconds'] / ours['seconds']:.1f}x faster, peak RSS "
                f"{ours['peak_rss_mb']:.0f} vs {sk['peak_rss_mb']:.0f} MB"
            )

    # Detection last: ru_maxrss survives fork+exec, so the workers must start
    # before this process holds the dlib models and photos.
    det = bench_detection(a.photos)
    print("\n## detection + alignment + embedding (dlib HOG, CPU, real photos)")
    print(f"{'method':<22} {'photos':>6} {'mean MP':>8} {'faces':>6} {'s':>7} {'faces/s':>8}")
    for d in det:
        print(
            f"{d['method']:<22} {d['photos']:>6} {d['mean_mp']:>8.2f} {d['faces']:>6} "
            f"{d['seconds']:>7.2f} {d['faces_per_s']:>8.2f}"
        )
    print(
        f"speed-up of the policy over the full-res default: "
        f"{det[0]['faces_per_s'] / det[1]['faces_per_s']:.1f}x "
        f"(faces found {det[0]['faces']} vs {det[1]['faces']})"
    )


if __name__ == "__main__":
    main()
