"""Cold query-time cost of the sentence encoder: import + load + encode one query,
the numpy encoder (assetdb.models.text) against sentence-transformers, each in a
fresh interpreter, in the same run. Also the largest cosine distance between the
two on the query.

    python -m bench.text_encoder [--runs 3] [--query "a dog on a beach"]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NEW = """
import json, sys, time
t0 = time.perf_counter()
from assetdb.models.text import SentenceEncoder
t1 = time.perf_counter()
enc = SentenceEncoder.shared().load()
t2 = time.perf_counter()
v = enc.encode([sys.argv[1]])[0]
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "encode": t3 - t2, "v": v.tolist()}))
"""

OLD = """
import json, os, sys, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
t0 = time.perf_counter()
from sentence_transformers import SentenceTransformer
t1 = time.perf_counter()
from assetdb.models.text import model_dir
m = SentenceTransformer(str(model_dir()), device="cpu")
t2 = time.perf_counter()
v = m.encode([sys.argv[1]], normalize_embeddings=True, show_progress_bar=False)[0]
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "encode": t3 - t2, "v": v.tolist()}))
"""


def _run(code: str, query: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, query], capture_output=True, text=True,
                         check=True, env=env, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--query", default="a dog running on a beach")
    args = ap.parse_args()
    rows = {}
    vecs = {}
    for name, code in (("numpy (assetdb.models.text)", NEW), ("sentence-transformers", OLD)):
        runs = [_run(code, args.query) for _ in range(args.runs)]
        rows[name] = {k: statistics.median(r[k] for r in runs) for k in ("import", "load", "encode")}
        vecs[name] = runs[0]["v"]
    a, b = vecs.values()
    cos = sum(x * y for x, y in zip(a, b, strict=True))
    print(f"median of {args.runs} cold runs, query {args.query!r}")
    print("| encoder | import s | load s | encode s | total s |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        total = r["import"] + r["load"] + r["encode"]
        print(f"| {name} | {r['import']:.2f} | {r['load']:.2f} | {r['encode']:.3f} | {total:.2f} |")
    print(f"cosine(numpy, sentence-transformers) = {cos:.6f}")


if __name__ == "__main__":
    main()
