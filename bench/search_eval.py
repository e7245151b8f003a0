"""Typed-query evaluation of `assetdb search` over the sample archive.

The judged queries are in bench/queries.toml (kinds: visual, speech, text, sound);
a query's answers are files. Each fusion setting runs every query over the same
store; the hits are reduced to distinct files in rank order (the first shot of a
file ranks the file) and scored per kind: top-1 (first file right), top-3 (a right
file among the first three) and mAP (average precision over the files returned, a
right file that is not returned counts as precision 0). The baseline (reciprocal-rank
fusion, the engine's previous default) is measured in the same run.

Build the store once (the shared media plus the 49 stills listed by --stills):

    PYTHONPATH=$PWD python bench/search_eval.py --stills /tmp/eval/stills   # links them
    PYTHONPATH=$PWD python -m cli.main --data-dir /tmp/eval/data ingest \\
        ../shared/data/media /tmp/eval/stills --no-faces
    PYTHONPATH=$PWD python bench/search_eval.py --data-dir /tmp/eval/data [--fusion rrf,calibrated]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUERIES = ROOT / "bench" / "queries.toml"
KINDS = ("visual", "speech", "text", "sound")
STILLS = [
    "n01440764_tench.jpg", "n01518878_ostrich.jpg", "n01531178_goldfinch.jpg",
    "n01558993_robin.jpg", "n01580077_jay.jpg", "n01582220_magpie.jpg",
    "n01608432_kite.jpg", "n01614925_bald_eagle.jpg", "n01818515_macaw.jpg",
    "n01833805_hummingbird.jpg", "n01843383_toucan.jpg", "n02007558_flamingo.jpg",
    "n02051845_pelican.jpg", "n02077923_sea_lion.jpg", "n02088364_beagle.jpg",
    "n02099601_golden_retriever.jpg", "n02123045_tabby.jpg", "n02123159_tiger_cat.jpg",
    "n02123394_Persian_cat.jpg", "n02123597_Siamese_cat.jpg", "n02124075_Egyptian_cat.jpg",
    "n02125311_cougar.jpg", "n02127052_lynx.jpg", "n02128385_leopard.jpg",
    "n02128757_snow_leopard.jpg", "n02128925_jaguar.jpg", "n02129165_lion.jpg",
    "n02129604_tiger.jpg", "n02391049_zebra.jpg", "n02504458_African_elephant.jpg",
    "n02643566_lionfish.jpg", "n02676566_acoustic_guitar.jpg", "n02701002_ambulance.jpg",
    "n02782093_balloon.jpg", "n02980441_castle.jpg", "n03028079_church.jpg",
    "n03345487_fire_engine.jpg", "n03388043_fountain.jpg", "n03452741_grand_piano.jpg",
    "n03642806_laptop.jpg", "n04252077_snowmobile.jpg", "n04266014_space_shuttle.jpg",
    "n04285008_sports_car.jpg", "n04507155_umbrella.jpg", "n04548280_wall_clock.jpg",
    "n07697313_cheeseburger.jpg", "n07873807_pizza.jpg", "n09428293_seashore.jpg",
    "n09472597_volcano.jpg",
]


def shared_data() -> Path:
    return Path(os.environ.get("ASSETDB_SHARED_DATA", ROOT.parent / "shared" / "data"))


def link_stills(dest: Path) -> int:
    """Symlink the evaluation's subset of imagenet-1k-samples into ``dest``."""
    src = shared_data() / "images" / "imagenet-1k-samples"
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    for name in STILLS:
        link = dest / name
        if not link.exists():
            link.symlink_to(src / name)
        n += 1
    return n


def load_queries(path: Path = QUERIES) -> list[dict]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    qs = data["query"]
    for q in qs:
        if q["kind"] not in KINDS:
            raise SystemExit(f"{path}: unknown kind {q['kind']!r} in {q['q']!r}")
    return qs


def average_precision(files: list[str], relevant: set[str]) -> float:
    hits, total = 0, 0.0
    for i, f in enumerate(files, 1):
        if f in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant) if relevant else 0.0


def ranked_files(store, query: str, fusion: str, limit: int) -> tuple[list[str], float]:
    from assetdb.search import SearchRequest, search

    names = {f.name for f in dataclasses.fields(SearchRequest)}
    extra = {}
    if "fusion" in names:
        extra["fusion"] = fusion
    elif fusion != "rrf":
        raise SystemExit("this checkout has reciprocal-rank fusion only")
    if "all_shots" in names:
        extra["all_shots"] = True
    if "cutoff" in names and "fusion" in names:
        extra["cutoff"] = 0.0  # rank everything; the cutoff is measured separately
    t0 = time.perf_counter()
    hits = search(store, SearchRequest(query=query, limit=limit, **extra))
    dt = time.perf_counter() - t0
    out: list[str] = []
    for h in hits:
        name = Path(h.path).name
        if name not in out:
            out.append(name)
    return out, dt


def evaluate(store, queries: list[dict], fusion: str, limit: int, verbose: bool) -> dict:
    per_kind: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    times = []
    for q in queries:
        rel = set(q["relevant"])
        files, dt = ranked_files(store, q["q"], fusion, limit)
        times.append(dt)
        t1 = float(bool(files) and files[0] in rel)
        t3 = float(any(f in rel for f in files[:3]))
        ap = average_precision(files, rel)
        per_kind[q["kind"]].append((t1, t3, ap))
        if verbose:
            mark = "ok " if t1 else ("top3" if t3 else "MISS")
            print(f"  [{fusion}] {mark:4} AP {ap:.2f} {q['q']!r}: {files[:3]}", file=sys.stderr)
    out = {}
    for kind in KINDS + ("all",):
        rows = [r for k, rs in per_kind.items() for r in rs] if kind == "all" else per_kind[kind]
        if not rows:
            continue
        n = len(rows)
        out[kind] = (n, sum(r[0] for r in rows) / n, sum(r[1] for r in rows) / n,
                     sum(r[2] for r in rows) / n)
    times.sort()
    out["latency"] = (times[len(times) // 2], times[-1])
    return out


def cutoff_check(store, queries: list[dict], fusion: str, cutoff: float) -> tuple[int, float, float]:
    """Over the queries with one right file: (queries, mean files kept at ``cutoff``,
    share of them where the right file is kept). rrf's cutoff is relative to the best
    hit, the calibrated one absolute."""
    from assetdb.search import SearchRequest, search

    single = [q for q in queries if len(q["relevant"]) == 1]
    kept, right = [], 0
    for q in single:
        hits = search(store, SearchRequest(query=q["q"], limit=100, cutoff=cutoff,
                                           fusion=fusion))
        files = {Path(h.path).name for h in hits}
        kept.append(len(files))
        right += q["relevant"][0] in files
    return len(single), sum(kept) / len(kept), right / len(single)


def fit(store, queries: list[dict], limit: int) -> None:
    """Per source, the raw scores of judged relevant and unrelated (query, file) pairs
    (a file's best shot), and the logistic relevance = 1/(1+exp(-(s-mid)/scale)) fitted
    to them by maximum likelihood: the constants of assetdb.search.fusion.CALIBRATION."""
    import numpy as np

    from assetdb.search import SearchRequest, search

    pairs: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for q in queries:
        rel = set(q["relevant"])
        best: dict[tuple[str, str], float] = {}
        for h in search(store, SearchRequest(query=q["q"], limit=limit, cutoff=0.0,
                                             all_shots=True)):
            name = Path(h.path).name
            for src, sc in h.sources.items():
                key = (src, name)
                best[key] = max(best.get(key, -1e9), sc.score)
        for (src, name), sc in best.items():
            pairs[src].append((sc, int(name in rel)))
    for src, xs in sorted(pairs.items()):
        x = np.array([a for a, _ in xs])
        y = np.array([b for _, b in xs], dtype=float)
        if y.sum() < 2 or y.sum() == len(y):
            print(f"{src:10} {len(y)} pairs, {int(y.sum())} relevant: too few to fit")
            continue
        # plain maximum likelihood: relevance is P(relevant | score) at this archive's
        # share of relevant files among a query's candidates (an honest probability;
        # weighing the classes equally instead put the visual midpoint at 0.26, where
        # 5% of unrelated pairs would score over 0.7)
        sw = np.ones_like(y)
        w = np.zeros(2)  # logit = w0 + w1 * x, Newton steps with a little ridge
        X = np.stack([np.ones_like(x), x], 1)
        for _ in range(50):
            p = 1 / (1 + np.exp(-(X @ w)))
            g = X.T @ (sw * (y - p)) - 1e-3 * w
            hess = X.T @ (X * (sw * p * (1 - p))[:, None]) + 1e-3 * np.eye(2)
            w += np.linalg.solve(hess, g)
        mid, scale = -w[0] / w[1], 1 / w[1]
        r, u = x[y == 1], x[y == 0]
        print(f"{src:10} {len(y):5d} pairs ({len(r)} relevant): relevant median "
              f"{np.median(r):.3f} [{r.min():.3f}, {r.max():.3f}], unrelated median "
              f"{np.median(u):.3f} p95 {np.percentile(u, 95):.3f}; fit mid {mid:.3f} "
              f"scale {scale:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--database-url")
    ap.add_argument("--fusion", default="rrf,calibrated",
                    help="comma-separated settings; the first is the baseline")
    ap.add_argument("--limit", type=int, default=100, help="shots asked for per query")
    ap.add_argument("--queries", type=Path, default=QUERIES)
    ap.add_argument("--stills", type=Path, help="only link the stills subset into this folder")
    ap.add_argument("--fit", action="store_true",
                    help="fit the per-source calibration on the judged pairs instead")
    ap.add_argument("-v", "--verbose", action="store_true", help="each query's first files")
    args = ap.parse_args()
    if args.stills:
        print(f"{link_stills(args.stills)} stills linked into {args.stills}")
        return
    from assetdb.config import load_settings
    from assetdb.db import Store

    store = Store.open(load_settings(data_dir=args.data_dir, database_url=args.database_url),
                       create=False)
    queries = load_queries(args.queries)
    if args.fit:
        fit(store, queries, args.limit)
        return
    results = {}
    for fusion in args.fusion.split(","):
        evaluate(store, queries[:1], fusion, args.limit, False)  # warm the models
        results[fusion] = evaluate(store, queries, fusion, args.limit, args.verbose)
    print(f"{len(queries)} queries ({args.queries.name}); hits reduced to distinct files")
    print(f"{'kind':8} {'n':>3} " + " ".join(
        f"{f + ' top1':>16} {'top3':>6} {'mAP':>6}" for f in results))
    for kind in KINDS + ("all",):
        cells = []
        n = 0
        for r in results.values():
            if kind in r:
                n, t1, t3, m = r[kind]
                cells.append(f"{t1:16.3f} {t3:6.3f} {m:6.3f}")
        if cells:
            print(f"{kind:8} {n:3d} " + " ".join(cells))
    for f in results:
        if f in ("rrf", "calibrated"):
            for c in (0.1, 0.5, 0.9):
                n, kept, right = cutoff_check(store, queries, f, c)
                print(f"--cutoff {c} {f}: {n} one-answer queries keep {kept:.1f} files on "
                      f"average, the right one in {right:.0%}")
    for f, r in results.items():
        med, worst = r["latency"]
        print(f"latency {f}: median {med * 1000:.0f} ms, max {worst * 1000:.0f} ms per query")


if __name__ == "__main__":
    main()
