"""`assetdb serve` benchmark: warm /api/search latency next to cold `assetdb search`
of the same typed queries in the same run, `assetdb search` through the running server,
throughput with 8 concurrent clients (a bounded loop), the server's resident memory,
and seek latency (a Range request at a hit's in-point to its first byte).

The server is the real command (`python -m cli.main serve`) in its own process.

    python bench/serve.py --data-dir DIR [--database-url URL] [--cold 5] [--rounds 3]
    python bench/serve.py --ingest            # a fresh store of the shared sample media
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
QUERIES = [
    "a man in a hat", "people talking", "a tree", "a car on a road", "a woman singing",
    "two men in suits", "a crowd applauding", "a dog", "traffic at night", "fire",
    "a person with glasses", "an office meeting", "black and white film", "a cartoon bunny",
    "a man with a microphone", "trade in charter", "the president", "a bird in the sky",
    "text on screen", "a close-up of a face",
]
CLIENTS = 8
LOAD_REQUESTS = 160  # the concurrent loop stops after this many requests in all


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))]


def _cli(args: list[str], data_dir: str, db_url: str | None) -> list[str]:
    out = [sys.executable, "-m", "cli.main", "--data-dir", data_dir]
    if db_url:
        out += ["--database-url", db_url]
    return out + args


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=300) as r:
        return json.load(r)


def cold_search(q: str, data_dir: str, db_url: str | None) -> float:
    t0 = time.perf_counter()
    subprocess.run(_cli(["search", q, "--limit", "20", "--json"], data_dir, db_url),
                   env=_env(), cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - t0


def seek_ttfb(base: str, hit: dict) -> float | None:
    """Seconds from sending a Range request at the hit's in-point to the first byte."""
    play = hit.get("play") or {}
    if not play.get("url"):
        return None
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("HEAD", play["url"])
    head = conn.getresponse()
    head.read()
    size = int(head.getheader("Content-Length") or 0)
    detail = _get(f"{base}/api/assets/{hit['asset_id']}")
    dur = detail.get("duration_s") or 0
    off = int(size * hit["start_s"] / dur) if dur else 0
    t0 = time.perf_counter()
    conn.request("GET", play["url"], headers={"Range": f"bytes={off}-"})
    resp = conn.getresponse()
    resp.read(1)
    dt = time.perf_counter() - t0
    conn.close()
    return dt


def ingest_samples(data_dir: str) -> None:
    media = REPO.parent / "shared" / "data" / "media"
    if not media.is_dir():
        media = Path(os.environ.get("ASSETDB_SHARED_DATA", "")) / "media"
    paths = [str(media / "video"), str(media / "images")]
    subprocess.run(_cli(["ingest", "-j", "1", *paths], data_dir, None), env=_env(), cwd=REPO,
                   check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--database-url")
    ap.add_argument("--ingest", action="store_true", help="build a fresh store of the samples")
    ap.add_argument("--cold", type=int, default=5, help="cold CLI runs (of the 20 queries)")
    ap.add_argument("--rounds", type=int, default=3, help="warm rounds over the 20 queries")
    args = ap.parse_args()
    tmp = None
    if args.ingest:
        tmp = tempfile.mkdtemp(prefix="assetdb-bench-serve-")
        args.data_dir = tmp
        ingest_samples(tmp)
    if not args.data_dir:
        ap.error("give --data-dir (an indexed store) or --ingest")
    report: dict = {"queries": len(QUERIES)}
    try:
        # cold: no server running
        cold = [cold_search(q, args.data_dir, args.database_url) for q in QUERIES[: args.cold]]
        report["cold_cli_s"] = {"n": len(cold), "p50": statistics.median(cold),
                                "max": max(cold)}
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        server = subprocess.Popen(_cli(["serve", "--port", str(port)], args.data_dir,
                                       args.database_url), env=_env(), cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while True:
                try:
                    _get(base + "/api/health")
                    break
                except OSError:
                    if server.poll() is not None:
                        raise SystemExit(server.stderr.read().decode()) from None
                    time.sleep(0.2)
            report["server_ready_s"] = time.perf_counter() - t0
            proc = psutil.Process(server.pid)
            report["rss_mib_warm"] = proc.memory_info().rss / 2**20
            warm, hits = [], []
            for _ in range(args.rounds):
                for q in QUERIES:
                    t1 = time.perf_counter()
                    res = _get(f"{base}/api/search?{urllib.parse.urlencode({'q': q})}")
                    warm.append(time.perf_counter() - t1)
                    hits.extend(res["results"][:1])
            report["warm_search_ms"] = {"n": len(warm), "p50": 1000 * _pct(warm, 50),
                                        "p99": 1000 * _pct(warm, 99)}
            via = [cold_search(q, args.data_dir, args.database_url)
                   for q in QUERIES[: args.cold]]
            report["cli_via_server_s"] = {"n": len(via), "p50": statistics.median(via)}
            # 8 clients, a bounded loop: LOAD_REQUESTS requests in all
            lat: list[float] = []
            lock = threading.Lock()
            counter = iter(range(LOAD_REQUESTS))

            def client() -> None:
                while True:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        return
                    q = QUERIES[i % len(QUERIES)]
                    t2 = time.perf_counter()
                    _get(f"{base}/api/search?{urllib.parse.urlencode({'q': q})}")
                    with lock:
                        lat.append(time.perf_counter() - t2)

            t3 = time.perf_counter()
            threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t3
            report["load"] = {"clients": CLIENTS, "requests": len(lat),
                              "req_per_s": len(lat) / wall, "p50_ms": 1000 * _pct(lat, 50),
                              "p99_ms": 1000 * _pct(lat, 99)}
            report["rss_mib_after_load"] = proc.memory_info().rss / 2**20
            seeks = [s for h in hits[:20] if (s := seek_ttfb(base, h)) is not None]
            if seeks:
                report["seek_ttfb_ms"] = {"n": len(seeks), "p50": 1000 * _pct(seeks, 50),
                                          "p99": 1000 * _pct(seeks, 99)}
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    report["cpus"] = os.cpu_count()
    report["load_avg"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
