"""Measure the ConSE choices of the "concepts" embedder on imagenet-1k-samples.

For every image the classifier runs once (probabilities cached in memory); each
configuration (top-k, probability floor, temperature, class-text mode, template)
then re-mixes those probabilities, and free-text queries that are not class names
(bench/imagenet_queries.py) rank all 1000 images. Reported: mean average precision,
precision@10 and nDCG@20 over the queries, plus the classifier's top-1/top-5
accuracy on the same images. Baseline: a random ranking (its expected AP = the
relevant fraction).

    PYTHONPATH=$PWD python bench/concepts_eval.py [--images N]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assetdb.media.images import load_rgb
from assetdb.models.concepts import ConceptEmbedder, ConceptParams
from bench.imagenet_queries import QUERIES, load_labels, shared_data

IMAGES = shared_data() / "images" / "imagenet-1k-samples"


def average_precision(ranked_rel: np.ndarray) -> float:
    hits = np.cumsum(ranked_rel)
    n = ranked_rel.sum()
    if n == 0:
        return 0.0
    return float((hits / np.arange(1, len(ranked_rel) + 1) * ranked_rel).sum() / n)


def ndcg(ranked_rel: np.ndarray, k: int) -> float:
    disc = 1 / np.log2(np.arange(2, k + 2))
    dcg = (ranked_rel[:k] * disc).sum()
    ideal = (np.sort(ranked_rel)[::-1][:k] * disc).sum()
    return float(dcg / ideal) if ideal else 0.0


def evaluate(img_emb: np.ndarray, q_emb: np.ndarray, rel: np.ndarray) -> tuple[float, float, float]:
    aps, p10, nd = [], [], []
    for qi in range(len(q_emb)):
        order = np.argsort(-(img_emb @ q_emb[qi]))
        r = rel[qi][order].astype(np.float64)
        aps.append(average_precision(r))
        p10.append(r[:10].mean())
        nd.append(ndcg(r, 20))
    return float(np.mean(aps)), float(np.mean(p10)), float(np.mean(nd))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--wordnet", action="store_true",
                    help="only the WordNet variants (hypernym depth, gloss) against DEFAULT")
    ap.add_argument("--objects", action="store_true",
                    help="also measure the COCO detections mix (needs the objects feature)")
    args = ap.parse_args()

    labels = load_labels(IMAGES)[: args.images]
    classes = np.array([c for _, c, _ in labels])
    base = ConceptEmbedder(use_objects=False)
    t0 = time.perf_counter()
    probs = np.stack([base.classifier.probabilities(load_rgb(IMAGES / f)) for f, _, _ in labels])
    t_cls = time.perf_counter() - t0
    order = np.argsort(-probs, axis=1)
    top1 = float((order[:, 0] == classes).mean())
    top5 = float((order[:, :5] == classes[:, None]).any(1).mean())
    print(f"classifier: {len(labels)} images in {t_cls:.1f} s ({len(labels)/t_cls:.1f} img/s), "
          f"top-1 {top1:.3f}, top-5 {top5:.3f}")

    queries = list(QUERIES)
    rel = np.array([[c in QUERIES[q] for c in classes] for q in queries])
    q_emb = base.embed_text(queries)
    rnd = float(np.mean([r.mean() for r in rel]))
    print(f"{len(queries)} queries, {int(rel.sum())} relevant pairs; random ranking mAP ~ {rnd:.3f}")

    # Oracle: the true class's embedding (upper bound of any mix of class texts).
    rows = []
    emb_cache: dict[tuple[str, str], np.ndarray] = {}

    def class_emb(mode: str, template: str, depth: int = 0, gloss: bool = False) -> np.ndarray:
        key = (mode, template, depth, gloss)
        if key not in emb_cache:
            e = ConceptEmbedder(use_objects=False, params=ConceptParams(
                text_mode=mode, template=template, hypernym_depth=depth, gloss=gloss))
            emb_cache[key] = e.class_embeddings()
        return emb_cache[key]

    def run(name: str, p: ConceptParams) -> None:
        e = ConceptEmbedder(use_objects=False, params=p)
        e._class_emb = class_emb(p.text_mode, p.template, p.hypernym_depth, p.gloss)
        img = np.stack([e.combine(pr) for pr in probs])
        m, p10, nd = evaluate(img, q_emb, rel)
        rows.append((name, p.top_k, p.floor, p.temperature, p.text_mode, p.template, m, p10, nd))

    if args.wordnet:
        from dataclasses import replace

        d = ConceptParams()
        base_p = replace(d, hypernym_depth=0, gloss=False)
        run("labels", base_p)
        for depth in (1, 2, 3, 4, 5, 6):
            run(f"wn-h{depth}", replace(base_p, hypernym_depth=depth))
        run("wn-gloss", replace(base_p, gloss=True))
        for depth in (3, 5):
            run(f"wn-h{depth}g", replace(base_p, hypernym_depth=depth, gloss=True))
        run("DEFAULT", d)
        for r in rows:
            print(f"{r[0]:9} k={r[1]} T={r[3]} {r[4]:7} mAP {r[6]:.3f} P@10 {r[7]:.3f} "
                  f"nDCG20 {r[8]:.3f}")
        print(f"random    mAP {rnd:.3f}")
        return
    for mode, template in itertools.product(
        ("first", "all", "joined"), ("{}", "a photo of a {}.", "a picture of {}, a kind of object")
    ):
        ce = class_emb(mode, template)
        m, p10, nd = evaluate(ce[classes], q_emb, rel)
        rows.append(("oracle", 1, 0.0, 1.0, mode, template, m, p10, nd))
    for k, floor in itertools.product((1, 3, 5, 10, 20), (0.0, 0.02, 0.05)):
        run("grid", ConceptParams(top_k=k, floor=floor, text_mode="all", template="a photo of a {}."))
    for mode in ("all", "joined"):
        for t in (0.5, 2.0, 3.0, 5.0, 8.0):
            for k in (5, 10, 20, 50):
                run("temp", ConceptParams(top_k=k, floor=0.0, temperature=t, text_mode=mode))
    for floor in (0.005, 0.01, 0.02):
        run("tempfl", ConceptParams(top_k=20, floor=floor, temperature=5.0, text_mode="joined"))
    for mode, template in itertools.product(
        ("first", "all", "joined"), ("{}", "a photo of a {}.", "a picture of {}, a kind of object")
    ):
        run("text", ConceptParams(top_k=10, floor=0.0, text_mode=mode, template=template))
    d = ConceptParams()
    run("DEFAULT", d)
    if args.objects:
        from assetdb.models.objects import detect_objects

        t0 = time.perf_counter()
        dets = [detect_objects(load_rgb(IMAGES / f)) for f, _, _ in labels]
        print(f"detector: {len(labels) / (time.perf_counter() - t0):.1f} img/s, "
              f"{sum(bool(x) for x in dets)} images with detections")
        for w in (0.1, 0.25, 0.5):
            p = ConceptParams(objects_weight=w)
            e = ConceptEmbedder(use_objects=False, params=p)
            e._text = base._text
            e._class_emb = class_emb(p.text_mode, p.template)
            img = np.stack([e.combine(pr, dt) for pr, dt in zip(probs, dets, strict=True)])
            m, p10, nd = evaluate(img, q_emb, rel)
            rows.append((f"objs{w}", p.top_k, p.floor, p.temperature, p.text_mode, p.template,
                         m, p10, nd))

    print(f"{'set':8} {'k':>3} {'floor':>5} {'T':>4} {'mode':7} {'template':36} {'mAP':>6} {'P@10':>6} {'nDCG20':>6}")
    for r in rows:
        print(f"{r[0]:8} {r[1]:3d} {r[2]:5.2f} {r[3]:4.1f} {r[4]:7} {r[5]!r:36} {r[6]:6.3f} {r[7]:6.3f} {r[8]:6.3f}")
    default = next(r for r in rows if r[0] == "DEFAULT")
    print(f"random   mAP {rnd:.3f}  (ratio of DEFAULT to random: {default[6] / rnd:.1f}x)")


if __name__ == "__main__":
    main()
