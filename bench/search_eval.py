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

A query none of whose answers the store holds is left out (said so). ``--compare`` lists
the queries whose AP differs between the settings; ``calibrated-raw`` is calibrated
fusion with the visual curve on the cosine alone (before it took the query's
background). Curves (constants of assetdb/search/fusion.py): ``--fit`` over the typed
queries; ``--fit-sound`` over the labelled sounds of the same store; ``--fit-like`` over
a store of the judged ImageNet photos:

    PYTHONPATH=$PWD python bench/search_eval.py --like-photos /tmp/eval/like_photos
    PYTHONPATH=$PWD python -m cli.main --data-dir /tmp/eval/like ingest \
        /tmp/eval/like_photos --only concepts
    PYTHONPATH=$PWD python bench/search_eval.py --data-dir /tmp/eval/like --fit-like
"""

from __future__ import annotations

import argparse
import contextlib
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


def store_files(store) -> set[str]:
    """The file names the store holds."""
    from sqlalchemy import select

    from assetdb.schema import Asset

    with store.session() as s:
        return {Path(p).name for p in s.execute(select(Asset.path)).scalars()}


def average_precision(files: list[str], relevant: set[str]) -> float:
    hits, total = 0, 0.0
    for i, f in enumerate(files, 1):
        if f in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant) if relevant else 0.0


# the visual curve before it took the query's background (mid 0.500, scale 0.059 on the
# raw cosine alone): `--fusion rrf,calibrated-raw,calibrated` measures the change
RAW_VISUAL = {"mid": 0.500, "scale": 0.059}


@contextlib.contextmanager
def setting(fusion: str):
    """``calibrated-raw``: calibrated fusion with the raw-cosine visual curve."""
    if fusion != "calibrated-raw":
        yield fusion
        return
    from assetdb.search import fusion as fz

    old = fz.CALIBRATION["visual"]
    fz.CALIBRATION["visual"] = fz.Calibration(**RAW_VISUAL)
    try:
        yield "calibrated"
    finally:
        fz.CALIBRATION["visual"] = old


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
    with setting(fusion) as f:
        if "fusion" in extra:
            extra["fusion"] = f
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
    per_query: dict[str, tuple[float, list[str]]] = {}
    times = []
    for q in queries:
        rel = set(q["relevant"])
        files, dt = ranked_files(store, q["q"], fusion, limit)
        times.append(dt)
        t1 = float(bool(files) and files[0] in rel)
        t3 = float(any(f in rel for f in files[:3]))
        ap = average_precision(files, rel)
        per_kind[q["kind"]].append((t1, t3, ap))
        per_query[q["q"]] = (ap, files[:3])
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
    out["per_query"] = per_query
    return out


def compare(queries: list[dict], results: dict[str, dict]) -> None:
    """The queries whose average precision differs between the settings, per kind."""
    names = list(results)
    print(f"per query AP where the settings differ ({' vs '.join(names)}):")
    for q in queries:
        aps = [results[n]["per_query"][q["q"]] for n in names]
        if len({round(a, 3) for a, _ in aps}) > 1:
            cells = " ".join(f"{a:.2f}" for a, _ in aps)
            firsts = " | ".join(",".join(f) for _, f in aps)
            print(f"  {q['kind']:6} {cells}  {q['q']!r}: {firsts}")


def cutoff_check(store, queries: list[dict], fusion: str, cutoff: float) -> tuple[int, float, float]:
    """Over the queries with one right file: (queries, mean files kept at ``cutoff``,
    share of them where the right file is kept). rrf's cutoff is relative to the best
    hit, the calibrated one absolute."""
    from assetdb.search import SearchRequest, search

    single = [q for q in queries if len(q["relevant"]) == 1]
    kept, right = [], 0
    for q in single:
        with setting(fusion) as f:
            hits = search(store, SearchRequest(query=q["q"], limit=100, cutoff=cutoff,
                                               fusion=f))
        files = {Path(h.path).name for h in hits if not getattr(h, "weak", False)}
        kept.append(len(files))
        right += q["relevant"][0] in files
    return len(single), sum(kept) / len(kept), right / len(single)


def fit(store, queries: list[dict], limit: int) -> None:
    """Per source, the raw scores of judged relevant and unrelated (query, file) pairs
    (a file's best shot), and the logistic relevance = 1/(1+exp(-(s-mid)/scale)) fitted
    to them by maximum likelihood: the constants of assetdb.search.fusion.CALIBRATION."""
    from assetdb.search import SearchRequest, search

    pairs: dict[str, list[tuple[float, int]]] = defaultdict(list)
    zs: list[float] = []  # beside pairs["visual"]: how far above the query's background
    for q in queries:
        rel = set(q["relevant"])
        best: dict[tuple[str, str], float] = {}
        for h in search(store, SearchRequest(query=q["q"], limit=limit, cutoff=0.0,
                                             all_shots=True)):
            name = Path(h.path).name
            for src, sc in h.sources.items():
                key = (src, name)
                best[key] = max(best.get(key, -1e9), sc.score)
        bg = visual_background(store, q["q"])
        for (src, name), sc in best.items():
            pairs[src].append((sc, int(name in rel)))
            if src == "visual":
                zs.append((sc - bg[0]) / bg[1] if bg else 0.0)
    for src, xs in sorted(pairs.items()):
        fit_logistic(src, xs)
        if src == "visual" and xs:
            fit_logistic("visual+z", xs, z=zs)


def visual_background(store, query: str) -> tuple[float, float] | None:
    """The query's (mean, std) cosine to the archive's visual vectors, as the engine
    computes it (assetdb.search.background)."""
    from assetdb.search import SearchRequest
    from assetdb.search.background import query_background
    from assetdb.search.engine import query_vector
    from assetdb.spaces import recorded_model, text_embedder

    with store.session() as s:
        rec = recorded_model(s)
        if rec is None:
            return None
        emb = text_embedder(s, device="cpu", settings=store.settings)
    qv = query_vector(emb, SearchRequest(query=query), query)
    return query_background(store, rec["space"], qv) if qv is not None else None


def fit_logistic(src: str, xs: list[tuple[float, int]],
                 weights: list[float] | None = None,
                 z: list[float] | None = None) -> tuple[float, ...] | None:
    """Maximum-likelihood logistic curve over (raw score, relevant?) pairs: (mid, scale),
    printed with the two score distributions; None when there are too few to fit.
    ``weights``: one per pair (default 1). ``z``: a second feature per pair (the score's
    distance above the query's background in standard deviations): (mid, scale,
    z_weight) of logit = (score - mid) / scale + z_weight * z."""
    import numpy as np

    x = np.array([a for a, _ in xs])
    y = np.array([b for _, b in xs], dtype=float)
    if y.sum() < 2 or y.sum() == len(y):
        print(f"{src:10} {len(y)} pairs, {int(y.sum())} relevant: too few to fit")
        return None
    # plain maximum likelihood: relevance is P(relevant | score) at this archive's
    # share of relevant files among a query's candidates (an honest probability;
    # weighing the classes equally instead put the visual midpoint at 0.26, where
    # 5% of unrelated pairs would score over 0.7)
    sw = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    cols = [np.ones_like(x), x] + ([np.asarray(z, dtype=float)] if z is not None else [])
    X = np.stack(cols, 1)
    w = np.zeros(X.shape[1])  # logit = w0 + w1 * x (+ w2 * z), Newton steps, a little ridge
    for _ in range(60):
        p = 1 / (1 + np.exp(-(X @ w)))
        g = X.T @ (sw * (y - p)) - 1e-3 * w
        hess = X.T @ (X * (sw * p * (1 - p))[:, None]) + 1e-3 * np.eye(len(w))
        w += np.linalg.solve(hess, g)
    p = np.clip(1 / (1 + np.exp(-(X @ w))), 1e-12, 1 - 1e-12)
    loglik = float((sw * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum())
    mid, scale = -w[0] / w[1], 1 / w[1]
    r, u = x[y == 1], x[y == 0]
    extra = f" z_weight {w[2]:.3f}" if z is not None else ""
    print(f"{src:10} {len(y):5d} pairs ({len(r)} relevant): relevant median "
          f"{np.median(r):.3f} [{r.min():.3f}, {r.max():.3f}], unrelated median "
          f"{np.median(u):.3f} p95 {np.percentile(u, 95):.3f}; fit mid {mid:.3f} "
          f"scale {scale:.3f}{extra} (log-likelihood {loglik:.1f})")
    return (float(mid), float(scale)) + ((float(w[2]),) if z is not None else ())


# -- by-example curves ----------------------------------------------------------------
# `like` (--like IMAGE, --like-shot): judged on the photos of imagenet-1k-samples that
# bench/imagenet_queries.py groups (birds, dogs, domestic cats, big cats, snakes, fish
# and sea creatures, insects, monkeys, boats, cars, food, fruit, musical instruments,
# computer equipment, seats, places of worship): an example photo and another photo
# are relevant when they share a group ("more like this beagle" wants dogs), unrelated
# when their groups are disjoint. One photo per ImageNet class, so same-class pairs do
# not exist; the groups are the nearest honest notion of "the same kind of thing".


def judged_photos() -> dict[str, set[str]]:
    """imagenet-1k-samples file -> the names of the groups it belongs to."""
    from bench.imagenet_queries import QUERIES, load_labels

    labels = load_labels(shared_data() / "images" / "imagenet-1k-samples")
    out: dict[str, set[str]] = {}
    for name, idx, _ in labels:
        groups = {q for q, members in QUERIES.items() if idx in members}
        if groups:
            out[name] = groups
    return out


def link_like_photos(dest: Path) -> int:
    src = shared_data() / "images" / "imagenet-1k-samples"
    dest.mkdir(parents=True, exist_ok=True)
    names = sorted(judged_photos())
    for name in names:
        link = dest / name
        if not link.exists():
            link.symlink_to(src / name)
    return len(names)


def _best_per_file(hits, source: str) -> dict[str, float]:
    """file name -> the raw score of ``source`` of the file's best shot."""
    out: dict[str, float] = {}
    for h in hits:
        sc = h.sources.get(source)
        if sc is None:
            continue
        name = Path(h.path).name
        out[name] = max(out.get(name, -1e9), sc.score)
    return out


def _cutoff_report(src: str, runs: list[tuple[dict[str, float], set[str]]],
                   curve: tuple[float, float] | None, cutoffs=(0.1, 0.5)) -> None:
    """What each cutoff keeps when relevance is ``curve`` (mid, scale) of the raw score
    (the source ranks alone in these searches, so its relevance is the fused score)."""
    if curve is None:
        return
    from assetdb.search.fusion import Calibration

    cal = Calibration(*curve)
    for c in cutoffs:
        kept = [[f for f, raw in got.items() if cal(raw) >= c] for got, _ in runs]
        n_kept = sum(len(k) for k in kept)
        right = sum(sum(f in rel for f in k) for k, (_, rel) in zip(kept, runs, strict=True))
        n_rel = sum(len(rel & set(got)) for got, rel in runs)
        empty = sum(1 for k in kept if not k)
        print(f"{src:10} at --cutoff {c}: {n_kept / len(runs):.1f} files kept per query, "
              f"precision {right / max(n_kept, 1):.2f}, recall {right / max(n_rel, 1):.2f}"
              f" (of the judged files returned), {empty} of {len(runs)} queries keep none")


def fit_like(store, limit: int) -> None:
    """Fit the `like` curve: every judged photo in the store is a --like-shot query."""
    from sqlalchemy import select

    from assetdb.schema import Asset, Segment
    from assetdb.search import SearchRequest, search

    groups = judged_photos()
    with store.session() as s:
        shots = {Path(p).name: sid for sid, p in s.execute(
            select(Segment.id, Asset.path).join(Asset, Asset.id == Segment.asset_id))}
    queries = sorted(n for n in shots if n in groups)
    if len(queries) < 10:
        raise SystemExit("the store holds too few judged photos: build it with --like-photos")
    # each group weighs the same in the fit: the dogs (118 of the 403 photos, 86% of a
    # dog's neighbours are dogs) would otherwise set the curve for every example
    n_group: dict[str, int] = defaultdict(int)
    for name in queries:
        n_group[min(groups[name])] += 1
    pairs: list[tuple[float, int]] = []
    weights: list[float] = []
    runs = []
    for name in queries:
        hits = search(store, SearchRequest(like_shot=shots[name], limit=limit, cutoff=0.0,
                                           all_shots=True))
        got = {f: v for f, v in _best_per_file(hits, "like").items()
               if f != name and f in groups}
        rel = {f for f in got if groups[f] & groups[name]}
        pairs += [(raw, int(f in rel)) for f, raw in got.items()]
        weights += [1.0 / n_group[min(groups[name])]] * len(got)
        all_rel = {f for f in groups if f != name and f in shots and groups[f] & groups[name]}
        runs.append((got, all_rel))
    print(f"like: {len(queries)} example photos in {len(n_group)} groups, the first {limit} "
          "shots of each")
    fit_logistic("like (unweighted)", pairs)
    curve = fit_logistic("like", pairs, weights)
    _cutoff_report("like", runs, curve)


def fit_sound(store, limit: int) -> None:
    """Fit the `sound` curve: every labelled clip of bench/sound_vectors.py in the store
    (a class with two or more members: speech, music, thunderstorm, dog) is a
    --sounds-like FILE query over the store's audio files; another labelled clip is
    relevant when it has the query's class (car horn, bird, whale, crunching and rain
    clips are unrelated to every query)."""
    from sqlalchemy import select

    from assetdb.schema import Asset
    from assetdb.search import SearchRequest, search
    from bench.sound_vectors import label_of

    with store.session() as s:
        paths = [Path(p) for p in s.execute(
            select(Asset.path).where(Asset.kind == "audio")).scalars()]
    labels = {p.name: label_of(p) for p in paths}
    counts = defaultdict(int)
    for lab in labels.values():
        counts[lab] += 1
    queries = sorted((p for p in paths if counts[labels[p.name]] >= 2
                      and not labels[p.name].startswith("other:")), key=lambda p: p.name)
    pairs: list[tuple[float, int]] = []
    weights: list[float] = []  # each class weighs the same (speech has the most clips)
    n_class = {lab: sum(labels[q.name] == lab for q in queries) for lab in labels.values()}
    runs = []
    for p in queries:
        hits = search(store, SearchRequest(sounds_like=p, kind="audio", limit=limit,
                                           cutoff=0.0, all_shots=True))
        got = {f: v for f, v in _best_per_file(hits, "sound").items() if f != p.name}
        rel = {f for f in got if labels.get(f) == labels[p.name]}
        judged = [(raw, int(f in rel)) for f, raw in got.items() if f in labels]
        pairs += judged
        weights += [1.0 / n_class[labels[p.name]]] * len(judged)
        runs.append((got, {f for f, lab in labels.items()
                           if f != p.name and lab == labels[p.name]}))
    print(f"sound: {len(queries)} labelled clips as --sounds-like queries over "
          f"{len(paths)} audio files")
    print("classes: " + ", ".join(f"{lab} {n}" for lab, n in sorted(n_class.items()) if n))
    fit_logistic("sound (unweighted)", pairs)
    curve = fit_logistic("sound", pairs, weights)
    _cutoff_report("sound", runs, curve)


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
    ap.add_argument("--fit-like", action="store_true",
                    help="fit the `like` curve on a store of the judged photos (--like-photos)")
    ap.add_argument("--fit-sound", action="store_true",
                    help="fit the `sound` (sounds-like) curve on the labelled sounds")
    ap.add_argument("--like-photos", type=Path,
                    help="only link the judged imagenet photos for --fit-like into this folder")
    ap.add_argument("--compare", action="store_true",
                    help="also list the queries whose AP differs between the settings")
    ap.add_argument("-v", "--verbose", action="store_true", help="each query's first files")
    args = ap.parse_args()
    if args.stills:
        print(f"{link_stills(args.stills)} stills linked into {args.stills}")
        return
    if args.like_photos:
        print(f"{link_like_photos(args.like_photos)} photos linked into {args.like_photos}")
        return
    from assetdb.config import load_settings
    from assetdb.db import Store

    store = Store.open(load_settings(data_dir=args.data_dir, database_url=args.database_url),
                       create=False)
    queries = load_queries(args.queries)
    if args.fit or args.fit_like or args.fit_sound:
        if args.fit:
            fit(store, queries, args.limit)
        if args.fit_like:
            fit_like(store, args.limit)
        if args.fit_sound:
            fit_sound(store, args.limit)
        return
    # a query none of whose answers is in this store (the stills' queries on the video-only
    # archive) measures nothing: every setting scores it 0
    held = store_files(store)
    answerable = [{**q, "relevant": [f for f in q["relevant"] if f in held]}
                  for q in queries if held & set(q["relevant"])]
    if len(answerable) < len(queries):
        print(f"{len(queries) - len(answerable)} queries left out: none of their answers is "
              "in this store")
        queries = answerable
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
        if f in ("rrf", "calibrated", "calibrated-raw"):
            for c in (0.1, 0.5, 0.9):
                n, kept, right = cutoff_check(store, queries, f, c)
                print(f"--cutoff {c} {f}: {n} one-answer queries keep {kept:.1f} files on "
                      f"average, the right one in {right:.0%}")
    if args.compare:
        compare(queries, results)
    for f, r in results.items():
        med, worst = r["latency"]
        print(f"latency {f}: median {med * 1000:.0f} ms, max {worst * 1000:.0f} ms per query")


if __name__ == "__main__":
    main()
