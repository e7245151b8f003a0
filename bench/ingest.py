"""Ingest throughput, each figure next to a baseline measured in the same run.

    python bench/ingest.py [--stills N] [--video DIR] [--workers N] [--batch-size K]
                           [--ray] [--only stills,video] [--extractors a,b,...]

- Stills: N ImageNet photos (default 1000, ``../shared/data/images``) with the default
  extractors, next to the visual embedder alone (``concepts``): images/s and the ratio.
- Video: ``../shared/data/media/video`` with the default extractors, next to a
  decode-only pass (every video frame and audio sample decoded with PyAV, nothing
  else, the same number of processes): media seconds per wall second and the ratio.
- For every run: seconds per stage (worker-side, summed over workers), and the peak
  resident memory of each worker process (sampled every 0.2 s).
- ``--ray``: the default-extractor runs again on a local Ray instance (``--ray local``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Self

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def decode_all(path: str) -> float:
    import av

    try:
        with av.open(path) as c:
            streams = [s for s in c.streams if s.type in ("video", "audio")]
            last = 0.0
            for packet in c.demux(*streams):
                try:
                    for f in packet.decode():
                        if f.time is not None:
                            last = max(last, f.time)
                except av.error.FFmpegError:
                    pass
            return last
    except Exception:  # noqa: BLE001
        return 0.0


class PeakRss:
    """Peak resident memory of this process's worker processes (and Ray's), sampled."""

    def __init__(self, ray: bool = False) -> None:
        import psutil

        self._me = psutil.Process()
        self._ray = ray
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _procs(self):
        import psutil

        kids = self._me.children(recursive=True)
        for p in psutil.process_iter(["cmdline"]) if self._ray else ():
            cmd = " ".join(p.info.get("cmdline") or [])
            if cmd.startswith("ray::") and p not in kids:
                kids.append(p)
        return kids

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for p in self._procs():
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                self.peaks[p.pid] = max(self.peaks.get(p.pid, 0), rss)
            self._stop.wait(0.2)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        # worker processes hold models (> 150 MiB); the resource tracker and others don't
        big = sorted((v for v in self.peaks.values() if v > 150 << 20), reverse=True)
        if not big:
            return "no worker process over 150 MiB (or it ran in this process)"
        return (f"{len(big)} workers, peak RSS max {big[0] / 2**20:.0f} MiB, "
                f"median {big[len(big) // 2] / 2**20:.0f} MiB")


def run_ingest(label: str, paths: list[Path], names: list[str] | None, args, ray: bool = False):
    import resource

    from assetdb.config import load_settings
    from assetdb.db import Store
    from indexer.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(load_settings(data_dir=tmp, database_url=f"sqlite:///{tmp}/a.sqlite3"))
        import inspect

        extra = ({"batch_size": args.batch_size}
                 if "batch_size" in inspect.signature(ingest).parameters else {})  # older code
        with PeakRss(ray) as rss:
            t0 = time.perf_counter()
            report = ingest(store, paths, workers=args.workers, extractors=names,
                            ray_address="local" if ray else None, **extra)
            wall = time.perf_counter() - t0
        store.close()
    if ray:
        import ray as ray_mod

        ray_mod.shutdown()
    main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"label": label, "wall": wall, "report": report, "rss": rss.summary(),
            "main_rss": main_rss}


def print_stages(run: dict) -> None:
    r = run["report"]
    stages = sorted(r.stage_seconds.items(), key=lambda kv: -kv[1])
    total = sum(s for _, s in stages) or 1.0
    print(f"  {run['label']}: {run['rss']}; main process peak {run['main_rss']:.0f} MiB")
    print("    " + ", ".join(f"{n} {s:.1f} s ({100 * s / total:.0f}%)" for n, s in stages))
    if r.failed or r.stage_failures:
        print(f"    failed: {len(r.failed)} files, {len(r.stage_failures)} stages")


def bench_stills(args, default_names) -> None:
    photos = sorted((SHARED / "images" / "imagenet-1k-samples").glob("*.jpg"))[: args.stills]
    with tempfile.TemporaryDirectory() as lib:
        for p in photos:
            os.symlink(p, Path(lib) / p.name)
        runs = [run_ingest("visual embedder alone (concepts)", [Path(lib)], ["concepts"], args),
                run_ingest("default extractors", [Path(lib)], default_names, args)]
        if args.ray:
            runs.append(run_ingest("default extractors, --ray local", [Path(lib)],
                                   default_names, args, ray=True))
    n = len(photos)
    base = runs[0]["wall"]
    print(f"\nstills: {n} ImageNet photos, {args.workers} workers, batch {args.batch_size}")
    print(f"{'run':<36}{'wall s':>9}{'images/s':>10}{'x embedder':>12}")
    for r in runs:
        print(f"{r['label']:<36}{r['wall']:>9.1f}{n / r['wall']:>10.2f}{base / r['wall']:>12.3f}")
    for r in runs:
        print_stages(r)


def bench_video(args, default_names) -> None:
    from indexer.scan import scan

    files = [str(p) for p in scan([Path(args.video)]).files]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        media_s = sum(pool.map(decode_all, files))
    decode_s = time.perf_counter() - t0
    runs = [run_ingest("default extractors", [Path(args.video)], default_names, args)]
    if args.ray:
        runs.append(run_ingest("default extractors, --ray local", [Path(args.video)],
                               default_names, args, ray=True))
    print(f"\nvideo: {len(files)} files, {media_s:.1f} s of media, {args.workers} workers, "
          f"batch {args.batch_size}")
    print(f"{'run':<36}{'wall s':>9}{'media s/s':>11}{'x decode-only':>15}")
    print(f"{'decode-only (PyAV)':<36}{decode_s:>9.1f}{media_s / decode_s:>11.1f}{1:>15.3f}")
    for r in runs:
        print(f"{r['label']:<36}{r['wall']:>9.1f}{media_s / r['wall']:>11.1f}"
              f"{decode_s / r['wall']:>15.3f}")
    for r in runs:
        print_stages(r)


def main() -> None:
    from indexer import extractors as reg

    try:
        from indexer.schedule import DEFAULT_BATCH_SIZE
    except ImportError:  # older code: no batches
        DEFAULT_BATCH_SIZE = 1

    ap = argparse.ArgumentParser()
    ap.add_argument("--stills", type=int, default=1000)
    ap.add_argument("--video", default=str(SHARED / "media" / "video"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    ap.add_argument("--extractors", default=None, help="comma list; default: the default set")
    ap.add_argument("--only", default="stills,video")
    ap.add_argument("--ray", action="store_true", help="also run on a local Ray instance")
    args = ap.parse_args()
    names = None if args.extractors is None else [n for n in args.extractors.split(",") if n]
    shown = ",".join(names) if names is not None else ",".join(reg.DEFAULT_EXTRACTORS)
    print(f"extractors: {shown}; cores: {os.cpu_count()}")
    parts = set(args.only.split(","))
    if "stills" in parts:
        bench_stills(args, names)
    if "video" in parts:
        bench_video(args, names)


if __name__ == "__main__":
    main()
