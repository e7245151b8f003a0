"""Growth with the archive: synthetic archives of --sizes shots written through the
real writer (indexer.writer + indexer.rows: the catalogue with its segments, keyframes
and file-name/path/tag/sidecar texts, one visual vector per keyframe, object labels
with their texts) into SQLite and PostgreSQL; then, at each size, write throughput,
database and FAISS index bytes per shot, and the latency of the real
``assetdb.search.search`` for typed queries with and without filters. Every figure is
printed next to its ratio to the smallest size measured in the same run, and search
latency also next to FAISS alone (the index's own search for the same query vector).
Latencies are the best of --repeat warm runs (on a shared machine the best is the
least disturbed one), with the number of SQL statements each search ran.

The visual space is ``clip:ViT-B-32:random``, the random-init open_clip model the code
supports for tests: queries go through its real text tower (512-d), keyframe vectors
are synthetic (a mixture of clusters on the unit sphere), so scores mean nothing but
every code path of a search runs as it would on a real archive.

Archive: ~85% videos of 5-40 shots (a second keyframe per 8 s), 10% stills, 5% audio
files (10 s windows, no keyframes); paths /archive/<project>/<reel>/<words>_<n>.<ext>;
30% of files have a sidecar description; Zipf-distributed words; 0-3 COCO labels per
keyframe. Generation is seeded: the same size gives the same archive.

    python bench/scale.py [--sizes 10000,100000] [--backends sqlite,postgresql]
                          [--dir DIR] [--keep] [--reuse] [--repeat 5]
                          [--jobs-per-write 1] [--keep-index]

``--keep`` leaves the databases (under --dir, and PostgreSQL databases
``assetdb_scale_<n>``, see --pg-prefix); ``--reuse`` searches a kept database instead
of writing it again.
"""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting are ruinous on a shared, oversubscribed machine
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DIM = 512
MODEL = "ViT-B-32"
SPACE = f"clip:{MODEL}:random"
PG_ADMIN = os.environ.get("ASSETDB_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RATE = Fraction(25)
TIME_BASE = Fraction(1, 25)
KEYFRAME_EVERY_S = 8.0
ASSETS_PER_PLAN = 500  # new asset rows per planning transaction (as ingest plans a batch)
# jobs whose results the writer stores in one transaction (--jobs-per-write): 1 is a
# writer that keeps up with its workers; one that falls behind takes every job finished
# since its last write (indexer.runners.run_local_batches)
JOBS_PER_WRITE = 1
KEEP_INDEX = False  # --reuse --keep-index: search with the index a kept run built
PROJECTS = 40
REELS = 25
COCO = ["person", "car", "dog", "cat", "bicycle", "bird", "boat", "bus", "chair", "cup",
        "bottle", "horse", "truck", "tv", "laptop", "umbrella", "bench", "clock", "train",
        "airplane", "sheep", "cow", "elephant", "giraffe", "kite"]
REAL_WORDS = ["beach", "sunset", "interview", "city", "night", "street", "rain", "forest",
              "crowd", "market", "harbour", "mountain", "snow", "kitchen", "office",
              "running", "walking", "talking", "driving", "dancing", "river", "bridge",
              "concert", "stadium", "airport", "desert", "garden", "portrait", "skyline",
              "festival"]

# The queries: a typed sentence alone and with each kind of filter.
QUERY = "dog running on the beach at sunset"
CASES: list[tuple[str, dict]] = [
    ("query", {}),
    ("--kind video", {"kind": "video"}),
    ("--path glob", {"path": "/archive/project_03/*"}),
    ("--min-duration 6", {"min_duration": 6.0}),
    ("--after 2024", {"after": "2024-01-01"}),
    ("--object dog", {"objects": ["dog"]}),
    ("--object giraffe", {"objects": ["giraffe"]}),
    ("kind+object+dur", {"kind": "video", "objects": ["person"], "max_duration": 10.0}),
    ("--all-shots", {"all_shots": True, "limit": 100}),
    ("filter only: --object dog", {"query": None, "objects": ["dog"]}),
    ("filter only: --kind video", {"query": None, "kind": "video"}),
    ("filter only: --path glob", {"query": None, "path": "/archive/project_03/*"}),
    ("filter only: --object giraffe", {"query": None, "objects": ["giraffe"]}),
]


# ------------------------------------------------------------------ the synthetic archive


class Space:
    """Clustered unit vectors: 256 cluster centres, each point centre + noise."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        c = rng.standard_normal((256, DIM)).astype(np.float32)
        self.centres = c / np.linalg.norm(c, axis=1, keepdims=True)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        x = self.centres[rng.integers(0, len(self.centres), n)] + 0.6 * rng.standard_normal(
            (n, DIM)).astype(np.float32) / np.sqrt(DIM).astype(np.float32)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def vocabulary(n: int = 5000, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    syl = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "den", "mar", "tel", "bro", "qua",
           "zen", "fi", "po", "gra", "lu", "sa", "che"]
    words = list(REAL_WORDS) + COCO
    seen = set(words)
    while len(words) < n:
        w = "".join(syl[i] for i in rng.integers(0, len(syl), rng.integers(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


@dataclass
class Synth:
    """What one synthetic asset is made of (deterministic from its number)."""

    path: str
    kind: str
    duration_s: float
    spans: list[tuple[float, float]]
    created_at: datetime
    tags: dict
    sidecar: str | None


class Archive:
    def __init__(self) -> None:
        self.words = vocabulary()
        ranks = np.arange(1, len(self.words) + 1)
        p = 1.0 / ranks ** 1.05
        self.p = p / p.sum()
        self.space = Space()
        lp = 1.0 / np.arange(1, len(COCO) + 1) ** 1.2
        self.label_p = lp / lp.sum()

    def _words(self, rng, n: int) -> list[str]:
        return [self.words[i] for i in rng.choice(len(self.words), n, p=self.p)]

    def asset(self, i: int) -> Synth:
        rng = np.random.default_rng(1_000_003 + i)
        r = rng.random()
        kind = "video" if r < 0.85 else ("image" if r < 0.95 else "audio")
        ext = {"video": "mov", "image": "jpg", "audio": "wav"}[kind]
        name = "_".join(self._words(rng, 2))
        path = f"/archive/project_{i % PROJECTS:02d}/reel_{(i // PROJECTS) % REELS:02d}/{name}_{i:07d}.{ext}"
        if kind == "video":
            n = int(rng.integers(5, 41))
            lens = np.round(rng.gamma(2.0, 2.5, n) + 0.4, 2)
            ends = np.cumsum(lens)
            spans = [(float(a), float(b)) for a, b in zip(np.r_[0, ends[:-1]], ends, strict=True)]
        elif kind == "image":
            spans = [(0.0, 0.0)]
        else:
            n = int(rng.integers(2, 12))
            spans = [(10.0 * j, 10.0 * (j + 1)) for j in range(n)]
        created = datetime(2015, 1, 1) + timedelta(days=float(rng.uniform(0, 3650)))
        tags = {"title": " ".join(self._words(rng, 3)), "encoder": "Lavf60",
                "com.apple.quicktime.model": "ARRI ALEXA Mini"}
        sidecar = " ".join(self._words(rng, int(rng.integers(8, 30)))) if rng.random() < 0.3 else None
        return Synth(path, kind, spans[-1][1] if kind != "image" else 0.0, spans, created, tags,
                     sidecar)

    def shots(self, total: int):
        """Assets (number, Synth) until ``total`` segments are reached (the last one cut)."""
        i = done = 0
        while done < total:
            a = self.asset(i)
            a.spans = a.spans[: total - done]
            if a.kind != "image":
                a.duration_s = a.spans[-1][1]
            done += len(a.spans)
            yield i, a
            i += 1


# ------------------------------------------------------------------ writing through the writer


def catalogue_outcome(arch: Archive, aid: int, a: Synth, data_dir: Path, rng):
    from assetdb import layout
    from assetdb.media.probe import ProbeInfo
    from indexer.catalogue import STAGE, VERSION, CatalogueResult
    from indexer.work import KeyframeRef, SegmentRef, StageOutcome

    kdir = layout.keyframe_dir(aid, f"{aid:012x}")
    segs = []
    for j, (s0, s1) in enumerate(a.spans):
        f0, f1 = round(s0 * 25), max(round(s1 * 25), round(s0 * 25) + 1)
        kind = {"video": "shot", "image": "still", "audio": "window"}[a.kind]
        ref = SegmentRef(index=j, kind=kind, time_base=TIME_BASE, start_ts=f0, end_ts=f1,
                         start_frame=f0, end_frame=f1, rate=RATE if a.kind == "video" else None,
                         transition="cut")
        if a.kind != "audio":
            n_kf = 1 + int((s1 - s0) // KEYFRAME_EVERY_S)
            for q in range(n_kf):
                fr = f0 + (f1 - f0) * (2 * q + 1) // (2 * n_kf)
                ref.keyframes.append(KeyframeRef(
                    segment_index=j, ts=fr, time_s=fr / 25, frame=fr,
                    path=data_dir / kdir / layout.keyframe_name(j, fr), width=1280, height=720,
                    quality=float(rng.random()),
                    stats={"contrast": float(rng.uniform(5, 80)), "blank": 0.0,
                           "sharpness": float(rng.random())},
                ))  # fmt: skip
        segs.append(ref)
    probe = ProbeInfo(kind=a.kind, container="mov", mime="video/quicktime",
                      duration_s=a.duration_s or None,
                      frame_rate=RATE if a.kind == "video" else None,
                      frame_count=round(a.duration_s * 25) if a.kind == "video" else None,
                      width=1920, height=1080, video_codec="prores", tags=a.tags,
                      created_at=a.created_at)
    sidecars = {"notes.txt": a.sidecar} if a.sidecar else {}
    result = CatalogueResult(probe=probe, segments=segs, keyframe_dir=kdir, sidecars=sidecars)
    return StageOutcome(STAGE, VERSION, True, result, seconds=0.01)


def _jobs(results: list) -> list[list]:
    """Results in jobs of up to DEFAULT_BATCH_SIZE keyframes (a bigger one alone)."""
    from indexer.schedule import DEFAULT_BATCH_SIZE

    jobs, job, cost = [], [], 0
    for r in results:
        n = len(r.work.keyframes)
        if job and cost + n > DEFAULT_BATCH_SIZE:
            jobs.append(job)
            job, cost = [], 0
        job.append(r)
        cost += n
    return [*jobs, job] if job else jobs


def write_archive(store, arch: Archive, total: int) -> dict:
    """Write ``total`` shots the way ingest does: plan (asset rows), then per asset the
    catalogue and each extractor result through ``indexer.writer``."""
    from assetdb.models.objects import Detection
    from assetdb.schema import Asset
    from indexer import writer
    from indexer.catalogue import work_from_result
    from indexer.extractors import get_extractor
    from indexer.extractors.concepts import KeyframeVectors
    from indexer.extractors.objects import FrameObjects, ObjectsResult
    from indexer.schedule import CATALOGUE_BATCH_FILES
    from indexer.work import StageOutcome, TaskResult

    clip = get_extractor("clip", model=MODEL, pretrained=None)
    objects = get_extractor("objects")
    extractor = {"clip": clip, "objects": objects}.get
    data_dir = Path(store.settings.data_dir)
    t0 = time.perf_counter()
    shots = keyframes = vectors = 0
    batch: list[tuple[int, Synth]] = []
    last_report = t0

    def flush(batch):
        nonlocal shots, keyframes, vectors
        with writer.transaction(store) as s:
            rows = [Asset(path=a.path, size=1 << 20, mtime_ns=i, content_hash=f"{i:064x}",
                          state="pending") for i, a in batch]
            s.add_all(rows)
            s.flush()
            ids = [r.id for r in rows]
        # as ingest writes them (indexer.ingest): each job's results in one transaction,
        # the catalogues CATALOGUE_BATCH_FILES files a job, then each model stage in jobs
        # of up to DEFAULT_BATCH_SIZE keyframes (indexer.schedule)
        cats, works, rngs = [], [], []
        for aid, (i, a) in zip(ids, batch, strict=True):
            rng = np.random.default_rng(7_000_001 + i)
            outcome = catalogue_outcome(arch, aid, a, data_dir, rng)
            works.append(work_from_result(aid, Path(a.path), data_dir, outcome.result))
            cats.append(TaskResult(aid, outcome, [], works[-1]))
            rngs.append(rng)
        per_write = CATALOGUE_BATCH_FILES * JOBS_PER_WRITE
        for j in range(0, len(cats), per_write):
            for w in writer.write_results(store, cats[j:j + per_write], extractor):
                assert w is not None and w.catalogue.error is None, w
        visual, found = [], []
        for work, rng in zip(works, rngs, strict=True):
            kfs = work.keyframes
            shots += len(work.segments)
            keyframes += len(kfs)
            if not kfs:
                continue
            vecs = arch.space.sample(rng, len(kfs))
            vectors += len(kfs)
            visual.append(TaskResult(work.asset_id, None, [StageOutcome(
                clip.name, clip.version, True,
                KeyframeVectors(rows=[(k.segment_index, k.time_s, vecs[j])
                                      for j, k in enumerate(kfs)], space=SPACE))], work))
            frames = []
            for k in kfs:
                n = int(rng.choice(4, p=[0.3, 0.4, 0.2, 0.1]))
                labels = [COCO[x] for x in rng.choice(len(COCO), n, p=arch.label_p)]
                frames.append(FrameObjects(k.segment_index, k.ts, k.time_s, k.frame, [
                    Detection(lb, float(rng.uniform(0.3, 0.99)), (0.1, 0.1, 0.5, 0.5))
                    for lb in labels]))
            found.append(TaskResult(work.asset_id, None, [StageOutcome(
                objects.name, objects.version, True,
                ObjectsResult("ssd-mobilenet-v2", frames))], work))
        for results in (visual, found):
            jobs = _jobs(results)
            for j in range(0, len(jobs), JOBS_PER_WRITE):
                for w in writer.write_results(store, [r for job in jobs[j:j + JOBS_PER_WRITE]
                                                      for r in job], extractor):
                    assert w is not None and not w.stage_errors, w

    for i, a in arch.shots(total):
        batch.append((i, a))
        if len(batch) >= ASSETS_PER_PLAN:
            flush(batch)
            batch = []
            now = time.perf_counter()
            if now - last_report > 30:
                last_report = now
                print(f"    {shots} shots, {shots / (now - t0):.0f} shots/s", file=sys.stderr,
                      flush=True)
    if batch:
        flush(batch)
    store.analyze()  # as an ingest that grew the catalogue does (indexer.ingest)
    dt = time.perf_counter() - t0
    return {"shots": shots, "keyframes": keyframes, "vectors": vectors, "write_s": dt,
            "jobs_per_write": JOBS_PER_WRITE}


# ------------------------------------------------------------------ databases


PG_PREFIX = "assetdb_scale"


def open_db(backend: str, n: int, root: Path, reuse: bool):
    """(store, existed) on a per-size database."""
    from assetdb.config import load_settings
    from assetdb.db import Store

    data = root / f"{backend}-{n}"
    existed = reuse and (data / "written.json").is_file()
    if not existed and data.exists():
        shutil.rmtree(data)
    if existed and not KEEP_INDEX:  # the first search builds the index, as after a write
        shutil.rmtree(data / "indexes", ignore_errors=True)
    data.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        url = f"sqlite:///{data / 'assetdb.sqlite3'}"
    else:
        name = f"{PG_PREFIX}_{n}"
        if not existed:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    return Store.open(load_settings(data_dir=data, database_url=url), upgrade_schema=True), existed


def _pg_admin(*sql: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        for q in sql:
            c.execute(text(q))
    eng.dispose()


def db_bytes(store) -> int:
    from sqlalchemy import text

    if store.dialect == "sqlite":
        with store.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        p = Path(store.engine.url.database)
        return sum(f.stat().st_size for f in p.parent.glob(p.name + "*"))
    with store.engine.connect() as c:
        c.execute(text("COMMIT"))
        return int(c.execute(text("SELECT pg_database_size(current_database())")).scalar())


# ------------------------------------------------------------------ measuring search


class StatementCounter:
    def __init__(self, engine):
        from sqlalchemy import event

        self.n = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_a, **_k):
        self.n += 1


@dataclass
class Measured:
    backend: str
    n: int
    write: dict = field(default_factory=dict)
    db_bytes: int = 0
    index_bytes: int = 0
    index_kind: str = ""
    first_search_s: float = 0.0  # builds the index (the query model is loaded before)
    faiss_ms: float = 0.0
    embed_ms: float = 0.0  # the query through the text tower, in every search
    search_ms: dict[str, float] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)


def measure_search(store, m: Measured, repeat: int) -> None:
    from assetdb.index import index_path, open_index
    from assetdb.search import SearchRequest, search
    from assetdb.spaces import text_embedder

    counter = StatementCounter(store.engine)
    with store.session() as s:
        text_embedder(s).embed_text(["load the model first"])  # not part of the build
    t0 = time.perf_counter()
    search(store, SearchRequest(query=QUERY))
    m.first_search_s = time.perf_counter() - t0
    p = index_path(store, SPACE)
    m.index_bytes = p.stat().st_size
    m.index_kind = json.loads(p.with_suffix(".json").read_text())["kind"]

    with store.session() as s:
        emb = text_embedder(s)
    qv = emb.embed_text([QUERY])
    ts = []
    for _ in range(max(repeat, 5)):
        t = time.perf_counter()
        emb.embed_text([QUERY])
        ts.append(time.perf_counter() - t)
    m.embed_ms = 1000 * min(ts)
    index = open_index(store, SPACE)
    index.search(qv, 500)
    ts = []
    for _ in range(max(repeat, 5)):
        t = time.perf_counter()
        index.search(qv, 500)
        ts.append(time.perf_counter() - t)
    m.faiss_ms = 1000 * min(ts)

    for name, kw in CASES:
        kw = {"query": QUERY, **kw}
        search(store, SearchRequest(**kw))  # warm
        ts = []
        for _ in range(repeat):
            counter.n = 0
            t = time.perf_counter()
            hits = search(store, SearchRequest(**kw))
            ts.append(time.perf_counter() - t)
        m.search_ms[name] = 1000 * min(ts)
        m.statements[name] = counter.n
        m.hits[name] = len(hits)
        print(f"    {name:28s} {m.search_ms[name]:9.1f} ms  {counter.n:5d} statements  "
              f"{len(hits)} hits", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ report


def _cell(v: float, base: float, fmt: str) -> str:
    ratio = v / base if base else float("nan")
    return f"{format(v, fmt)} (x{ratio:.2f})"


def report(results: list[Measured]) -> None:
    for backend in dict.fromkeys(r.backend for r in results):
        rs = [r for r in results if r.backend == backend]
        b = rs[0]
        print(f"\n{backend}: growth against {b.n} shots (ratio in brackets; shots x"
              + ", x".join(f"{r.n / b.n:g}" for r in rs) + ")")
        rows: list[tuple[str, list[str]]] = []
        rows.append(("write shots/s", [_cell(r.n / r.write["write_s"], b.n / b.write["write_s"],
                                             ".0f") for r in rs]))
        rows.append(("db bytes/shot", [_cell(r.db_bytes / r.n, b.db_bytes / b.n, ".0f")
                                       for r in rs]))
        rows.append(("faiss bytes/shot", [_cell(r.index_bytes / r.n, b.index_bytes / b.n, ".0f")
                                          for r in rs]))
        rows.append(("index kind", [f"{r.index_kind} ({r.write['vectors']} vec)" for r in rs]))
        first = "1st search s (index load)" if KEEP_INDEX else "1st search s (index build)"
        rows.append((first, [_cell(r.first_search_s, b.first_search_s, ".1f")
                                              for r in rs]))
        rows.append(("embed query ms", [_cell(r.embed_ms, b.embed_ms, ".1f") for r in rs]))
        rows.append(("faiss alone ms (k=500)", [_cell(r.faiss_ms, b.faiss_ms, ".2f") for r in rs]))
        for name, _ in CASES:
            rows.append((f"search {name} ms", [
                _cell(r.search_ms[name], b.search_ms[name], ".1f")
                + f" {r.search_ms[name] / max(r.faiss_ms, 1e-6):.0f}xF {r.statements[name]}q"
                for r in rs]))
        head = ["", *[f"{r.n} shots" for r in rs]]
        widths = [max(len(head[0]), *(len(x[0]) for x in rows))]
        widths += [max(len(head[i + 1]), *(len(x[1][i]) for x in rows)) for i in range(len(rs))]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for label, cells in rows:
            print("  ".join(c.ljust(w) for c, w in zip([label, *cells], widths, strict=True)))
    print("\nxF: times FAISS alone at that size; Nq: SQL statements per search")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="shots per archive, comma-separated")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--dir", type=Path, default=None, help="where the archives go (default: temp)")
    ap.add_argument("--keep", action="store_true", help="keep the databases")
    ap.add_argument("--reuse", action="store_true", help="search kept databases, do not rewrite")
    ap.add_argument("--repeat", type=int, default=5,
                    help="timed runs per query (the best is reported: the machine is shared)")
    ap.add_argument("--write-only", action="store_true",
                    help="write (and keep) the archives, measure nothing else")
    ap.add_argument("--pg-prefix", default="assetdb_scale",
                    help="PostgreSQL databases are named PREFIX_<size>")
    ap.add_argument("--keep-index", action="store_true",
                    help="with --reuse: keep the FAISS index built before (the first search "
                         "then loads it instead of building it)")
    ap.add_argument("--jobs-per-write", type=int, default=1,
                    help="finished jobs the writer stores in one transaction (default 1)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    global PG_PREFIX, JOBS_PER_WRITE, KEEP_INDEX
    PG_PREFIX = args.pg_prefix
    KEEP_INDEX = args.keep_index
    JOBS_PER_WRITE = max(1, args.jobs_per_write)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    backends = [b.strip().replace("postgres", "postgresql").replace("postgresqlql", "postgresql")
                for b in args.backends.split(",") if b.strip()]
    if args.write_only:
        args.keep = True
    root = args.dir or Path(tempfile.mkdtemp(prefix="assetdb-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    arch = Archive()
    results = []
    try:
        for backend in backends:
            for n in sizes:
                print(f"[{backend} {n}] writing", file=sys.stderr, flush=True)
                store, existed = open_db(backend, n, root, args.reuse)
                m = Measured(backend, n)
                marker = Path(store.settings.data_dir) / "written.json"
                if existed:
                    m.write = json.loads(marker.read_text())
                else:
                    m.write = write_archive(store, arch, n)
                    marker.write_text(json.dumps(m.write))
                print(f"    wrote {m.write['shots']} shots in {m.write['write_s']:.1f} s",
                      file=sys.stderr, flush=True)
                if args.write_only:
                    store.close()
                    continue
                m.db_bytes = db_bytes(store)
                measure_search(store, m, args.repeat)
                results.append(m)
                store.close()
                if not args.keep and backend == "postgresql":
                    _pg_admin(f'DROP DATABASE IF EXISTS "{PG_PREFIX}_{n}"')
                if not args.keep:
                    shutil.rmtree(store.settings.data_dir, ignore_errors=True)
    finally:
        if results:
            report(results)
            if args.json:
                args.json.write_text(json.dumps([r.__dict__ for r in results], indent=1))
        if not args.keep and args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
