"""Keyframes per second of each visual embedder, plus query (text) latency.

One run, one table. Keyframes are imagenet-1k-samples JPEGs (short side 320 px,
like stored keyframes), decoded inside the timed loop as ingest does. Embedders:

- concepts: EfficientNet-Lite3 int8 (LiteRT) + ConSE mix in MiniLM space
- classifier only: the LiteRT model alone (baseline: what ConSE adds on top)
- open_clip ViT-B-32 and ViT-S-32, random init (same compute as with weights)

CUDA rows are added when torch sees a GPU (open_clip in fp16 there).

    PYTHONPATH=$PWD python bench/embed.py [--n 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.imagenet_queries import shared_data


def timed(fn, n_items: int, warm) -> tuple[float, float]:
    warm()
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    return n_items / dt, dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="torch/LiteRT threads")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from assetdb.media.images import load_rgb
    from assetdb.models.base import resolve_device
    from assetdb.models.clip import ClipEmbedder
    from assetdb.models.concepts import ConceptEmbedder

    paths = sorted((shared_data() / "images" / "imagenet-1k-samples").glob("*.jpg"))
    paths = paths[:: max(1, len(paths) // args.n)][: args.n]
    rows = []
    queries = ["people walking on a street", "a cartoon", "a bird", "cars on a road"]

    ce = ConceptEmbedder(use_objects=False, num_threads=args.threads)
    ce.class_embeddings()
    ips, dt = timed(lambda: [ce.classifier.probabilities(load_rgb(p)) for p in paths], len(paths),
                    lambda: ce.classifier.probabilities(load_rgb(paths[0])))
    rows.append(("classifier only (baseline)", "cpu", ips, dt, None))
    ips, dt = timed(lambda: ce.embed_images(paths), len(paths), lambda: ce.embed_images(paths[:1]))
    tq = timed(lambda: [ce.embed_text([q]) for q in queries], len(queries),
               lambda: ce.embed_text(["warm"]))[1] / len(queries)
    rows.append(("concepts (ConSE)", "cpu", ips, dt, tq))

    gpu = resolve_device("auto") == "cuda"
    devices = ["cpu"] + (["cuda"] if gpu else [])
    for dev in devices:
        for name in ("ViT-B-32", "ViT-S-32"):
            e = ClipEmbedder(name, None, device=dev)
            e.load()
            ips, dt = timed(lambda e=e: e.embed_images(paths), len(paths),
                            lambda e=e: e.embed_images(paths[:2]))
            tq = timed(lambda e=e: [e.embed_text([q]) for q in queries], len(queries),
                       lambda e=e: e.embed_text(["warm"]))[1] / len(queries)
            rows.append((f"open_clip {name} (random init)", dev, ips, dt, tq))
    if gpu:
        ce_gpu = ConceptEmbedder(device="cuda", use_objects=False)
        ce_gpu.class_embeddings()
        tq = timed(lambda: [ce_gpu.embed_text([q]) for q in queries], len(queries),
                   lambda: ce_gpu.embed_text(["warm"]))[1] / len(queries)
        rows.append(("concepts text side", "cuda", float("nan"), float("nan"), tq))

    base = rows[0][2]
    print(f"{len(paths)} keyframes, torch threads {torch.get_num_threads()}, "
          f"cpus {os.cpu_count()}, load avg {os.getloadavg()[0]:.1f}")
    print(f"{'embedder':36} {'device':6} {'kf/s':>8} {'x baseline':>10} {'total s':>8} "
          f"{'query ms':>9}")
    for name, dev, ips, dt, tq in rows:
        q = f"{tq * 1000:9.1f}" if tq is not None else f"{'-':>9}"
        print(f"{name:36} {dev:6} {ips:8.1f} {ips / base:10.2f} {dt:8.2f} {q}")


if __name__ == "__main__":
    main()
