"""Incremental, resumable, parallel ingest.

The main process scans, decides the work, and is the only writer; worker processes
run the stage functions (catalogue, then each extractor) and send results back. Each
(asset, stage, version) is written with its `stage_runs` row in one transaction, so a
crash, kill -9 or Ctrl-C leaves a consistent store and the next run resumes.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat as stat_mod
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from assetdb.db import Store
from assetdb.errors import AssetdbError, MediaError
from assetdb.media.probe import content_hash, is_candidate
from assetdb.records import TextRow, replace_texts
from assetdb.schema import (
    STATE_FAILED,
    STATE_INDEXED,
    STATE_MISSING,
    STATE_PENDING,
    Asset,
    Keyframe,
    Segment,
    StageRun,
    utcnow,
)
from indexer import extractors as ext_registry
from indexer import pipeline
from indexer.work import AssetWork, KeyframeRef, SegmentRef

log = logging.getLogger(__name__)

EXIT_SOME_FAILED = 3
MAX_IN_FLIGHT_PER_WORKER = 2


# ---------------------------------------------------------------- scanning


@dataclass
class ScanResult:
    files: list[Path] = field(default_factory=list)
    skipped: int = 0  # not media
    errors: list[tuple[Path, str]] = field(default_factory=list)  # unreadable dirs, loops


def scan(roots: Iterable[Path]) -> ScanResult:
    """Media files under the roots (files or folders), following symlinks once."""
    out = ScanResult()
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()

    def add_file(p: Path, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if key in seen_files:
            return
        seen_files.add(key)
        if st.st_size == 0 or is_candidate(p):
            out.files.append(p)
        else:
            out.skipped += 1

    def walk(d: Path) -> None:
        try:
            st = d.stat()
        except OSError as exc:
            out.errors.append((d, f"cannot read folder: {exc.strerror}"))
            return
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            if d.is_symlink():
                out.errors.append((d, "symlink loop skipped"))
            return
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            out.errors.append((d, f"cannot list folder: {exc.strerror}"))
            return
        for e in entries:
            p = Path(e.path)
            try:
                st = p.stat()  # follows symlinks
            except OSError as exc:
                out.errors.append((p, f"cannot stat: {exc.strerror or exc}"))
                continue
            if stat_mod.S_ISDIR(st.st_mode):
                walk(p)
            elif stat_mod.S_ISREG(st.st_mode):
                if e.name.startswith("."):
                    out.skipped += 1
                    continue
                add_file(p, st)

    for root in roots:
        root = Path(root).absolute()
        try:
            st = root.stat()
        except OSError as exc:
            out.errors.append((root, f"cannot read: {exc.strerror}"))
            continue
        if stat_mod.S_ISDIR(st.st_mode):
            walk(root)
        else:
            add_file(root, st)
    return out


# ---------------------------------------------------------------- work items


@dataclass
class Task:
    asset_id: int
    path: Path
    content_hash: str
    data_dir: Path
    catalogue: bool
    work: AssetWork | None  # when the catalogue is already stored
    extractors: list[str]
    options: dict[str, dict[str, Any]]


@dataclass
class StageOutcome:
    name: str
    version: str
    ok: bool
    result: Any = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class TaskResult:
    asset_id: int
    catalogue: StageOutcome | None
    stages: list[StageOutcome]
    work: AssetWork | None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not isinstance(exc, AssetdbError):
        text = f"{type(exc).__name__}: {text}"
    return text[:500]


def run_task(task: Task) -> TaskResult:
    """Worker side: the catalogue stage if needed, then each extractor. Pure: no DB."""
    cat: StageOutcome | None = None
    work = task.work
    if task.catalogue:
        t0 = time.perf_counter()
        try:
            r = pipeline.catalogue_asset(task.path, task.asset_id, task.data_dir, task.content_hash)
            cat = StageOutcome(pipeline.STAGE, pipeline.VERSION, True, r,
                               seconds=time.perf_counter() - t0)
            work = pipeline.work_from_result(task.asset_id, task.path, task.data_dir, r)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, the run goes on
            log.debug("catalogue failed for %s", task.path, exc_info=True)
            cat = StageOutcome(pipeline.STAGE, pipeline.VERSION, False, error=_one_line(exc),
                               seconds=time.perf_counter() - t0)
            return TaskResult(task.asset_id, cat, [], None)
    stages = []
    assert work is not None
    for name in task.extractors:
        ext = ext_registry.get_extractor(name, **task.options.get(name, {}))
        if not ext.applies_to(work):
            continue
        t0 = time.perf_counter()
        try:
            ext.load()
            (res,) = ext.run([work])
            stages.append(StageOutcome(name, ext.version, True, res,
                                       seconds=time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001
            log.debug("%s failed for %s:\n%s", name, task.path, traceback.format_exc())
            stages.append(StageOutcome(name, ext.version, False, error=_one_line(exc),
                                       seconds=time.perf_counter() - t0))
    return TaskResult(task.asset_id, cat, stages, work)


def _init_worker(log_level: int) -> None:
    import signal

    # Ctrl-C is handled by the main process, which stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=log_level)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # model libraries print progress bars and banners; stderr is for our progress and logs
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# ---------------------------------------------------------------- report


@dataclass
class IngestReport:
    scanned: int = 0
    skipped_not_media: int = 0
    new: int = 0
    changed: int = 0
    renamed: int = 0
    unchanged: int = 0
    rehashed: int = 0
    indexed: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    stage_failures: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    pruned: int = 0
    scan_errors: list[dict[str, str]] = field(default_factory=list)
    media_seconds: float = 0.0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_SOME_FAILED if (self.failed or self.stage_failures) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "skipped_not_media": self.skipped_not_media,
            "new": self.new,
            "changed": self.changed,
            "renamed": self.renamed,
            "unchanged": self.unchanged,
            "rehashed": self.rehashed,
            "indexed": self.indexed,
            "failed": self.failed,
            "stage_failures": self.stage_failures,
            "missing": self.missing,
            "pruned": self.pruned,
            "scan_errors": self.scan_errors,
            "media_seconds": round(self.media_seconds, 3),
            "seconds": round(self.seconds, 3),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "interrupted": self.interrupted,
        }


ProgressFn = Callable[[str, dict[str, Any]], None]


# ---------------------------------------------------------------- planning


def _asset_work(asset: Asset, data_dir: Path) -> AssetWork:
    segs = []
    for s in asset.segments:
        tb = Fraction(s.time_base_num, s.time_base_den)
        ref = SegmentRef(
            index=s.index, kind=s.kind, time_base=tb, start_ts=s.start_ts, end_ts=s.end_ts,
            start_frame=s.start_frame, end_frame=s.end_frame, rate=s.rate,
            transition=s.transition, id=s.id,
        )
        for k in s.keyframes:
            ref.keyframes.append(KeyframeRef(
                segment_index=s.index, ts=k.ts, time_s=float(k.ts * tb), frame=k.frame,
                path=data_dir / k.path, width=k.width, height=k.height, quality=k.quality,
                stats=dict(k.stats or {}),
            ))
        segs.append(ref)
    return AssetWork(
        asset_id=asset.id, path=pipeline.fs_path(asset.path, asset.path_bytes), kind=asset.kind or "",
        data_dir=data_dir, duration_s=asset.duration_s, frame_rate=asset.frame_rate,
        width=asset.width, height=asset.height, rotation=asset.rotation,
        has_audio=any(a.get("decodable", True) for a in (asset.audio_streams or [])),
        audio_streams=list(asset.audio_streams or []), segments=segs,
    )


def _needed_extractors(
    runs: dict[str, StageRun], versions: dict[str, str], catalogue: bool, retry_failed: bool
) -> list[str]:
    out = []
    for name, ver in versions.items():
        r = runs.get(name)
        if catalogue or r is None or r.version != ver or (r.state != "done" and retry_failed):
            out.append(name)
    return out


# ---------------------------------------------------------------- writer


def _write_catalogue(store: Store, asset_id: int, outcome: StageOutcome, report: IngestReport) -> None:
    data_dir = store.settings.data_dir
    with store.session() as s:
        asset = s.get(Asset, asset_id)
        if asset is None:
            return
        s.execute(delete(StageRun).where(StageRun.asset_id == asset_id))
        s.execute(delete(Segment).where(Segment.asset_id == asset_id))
        if not outcome.ok:
            asset.state = STATE_FAILED
            asset.error = outcome.error
            s.add(StageRun(asset_id=asset_id, stage=outcome.name, version=outcome.version,
                           state="failed", error=outcome.error, seconds=outcome.seconds))
            report.failed.append({"path": asset.path, "error": outcome.error})
            return
        r: pipeline.CatalogueResult = outcome.result
        p = r.probe
        asset.kind = p.kind
        asset.container = p.container
        asset.mime = p.mime
        asset.duration_s = p.duration_s
        asset.frame_rate_num = p.frame_rate.numerator if p.frame_rate else None
        asset.frame_rate_den = p.frame_rate.denominator if p.frame_rate else None
        asset.variable_frame_rate = p.variable_frame_rate
        asset.frame_count = p.frame_count
        asset.width, asset.height, asset.rotation = p.width, p.height, p.rotation
        asset.video_codec, asset.audio_codec = p.video_codec, p.audio_codec
        asset.audio_streams = p.audio_streams
        asset.subtitle_streams = p.subtitle_streams
        asset.tags = p.tags
        asset.created_at = p.created_at
        asset.warnings = p.warnings
        asset.state = STATE_INDEXED
        asset.error = None
        asset.indexed_at = utcnow()
        s.flush()
        for seg in r.segments:
            row = Segment(
                asset_id=asset_id, index=seg.index, kind=seg.kind,
                time_base_num=seg.time_base.numerator, time_base_den=seg.time_base.denominator,
                start_ts=seg.start_ts, end_ts=seg.end_ts, start_frame=seg.start_frame,
                end_frame=seg.end_frame,
                rate_num=seg.rate.numerator if seg.rate else None,
                rate_den=seg.rate.denominator if seg.rate else None,
                transition=seg.transition,
            )
            for k in seg.keyframes:
                row.keyframes.append(Keyframe(
                    ts=k.ts, frame=k.frame, path=str(k.path.relative_to(data_dir)),
                    width=k.width, height=k.height, quality=k.quality, stats=k.stats,
                ))
            s.add(row)
        s.flush()
        path = Path(asset.path)
        replace_texts(s, asset_id, "filename", [TextRow(_words_of_name(path.name))])
        replace_texts(s, asset_id, "path", [TextRow(" ".join(_words_of_name(x) for x in path.parent.parts[-4:]))])
        tag_text = " ".join(f"{v}" for k, v in (p.tags or {}).items()
                            if k.lower() not in ("encoder", "major_brand", "minor_version",
                                                 "compatible_brands", "handler_name", "vendor_id"))
        replace_texts(s, asset_id, "tags", [TextRow(tag_text)])
        replace_texts(s, asset_id, "sidecar", [TextRow(t) for t in r.sidecars.values()])
        s.add(StageRun(asset_id=asset_id, stage=outcome.name, version=outcome.version,
                       state="done", seconds=outcome.seconds))
    # Keyframes of an older version of this file are no longer referenced.
    asset_dir = (data_dir / r.keyframe_dir).parent
    for old in asset_dir.iterdir() if asset_dir.is_dir() else []:
        if old.name != Path(r.keyframe_dir).name:
            shutil.rmtree(old, ignore_errors=True)


def _words_of_name(name: str) -> str:
    import re

    stem = name.rsplit(".", 1)[0] if "." in name else name
    spaced = re.sub(r"[_\-.+]+", " ", stem)
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", spaced)
    return f"{name} {spaced}".strip()


def _write_stage(store: Store, work: AssetWork, outcome: StageOutcome, options: dict, report: IngestReport) -> None:
    ext = ext_registry.get_extractor(outcome.name, **options.get(outcome.name, {}))
    with store.session() as s:
        if s.get(Asset, work.asset_id) is None:
            return
        run = s.execute(select(StageRun).where(StageRun.asset_id == work.asset_id,
                                               StageRun.stage == outcome.name)).scalar_one_or_none()
        if run is None:
            # state set now: an extractor's write may query, and autoflush then inserts this row
            run = StageRun(asset_id=work.asset_id, stage=outcome.name, state="pending")
            s.add(run)
        run.version = outcome.version
        run.seconds = outcome.seconds
        error = outcome.error
        if outcome.ok:
            try:
                with s.begin_nested():
                    ext.clear(s, work.asset_id)
                    ext.write(s, work, outcome.result)
            except Exception as exc:  # noqa: BLE001 - a failed write is recorded like a failed run
                log.debug("writing %s failed", outcome.name, exc_info=True)
                error = _one_line(exc)
        run.state = "done" if error is None else "failed"
        run.error = error
        if error is not None:
            asset = s.get(Asset, work.asset_id)
            report.stage_failures.append({"path": asset.path if asset else str(work.path),
                                          "stage": outcome.name, "error": error})
    report.stage_seconds[outcome.name] = report.stage_seconds.get(outcome.name, 0.0) + outcome.seconds


# ---------------------------------------------------------------- main entry


def ingest(
    store: Store,
    paths: Iterable[Path | str],
    *,
    workers: int | None = None,
    extractors: list[str] | None = None,
    disabled: Iterable[str] = (),
    options: dict[str, dict[str, Any]] | None = None,
    prune: bool = False,
    retry_failed: bool = False,
    progress: ProgressFn | None = None,
    ray_address: str | None = None,
) -> IngestReport:
    """Index the media under ``paths``. See the module docstring for guarantees."""
    t_start = time.perf_counter()
    report = IngestReport()
    options = options or {}
    emit = progress or (lambda kind, data: None)
    names = list(ext_registry.DEFAULT_EXTRACTORS if extractors is None else extractors)
    if extractors is None:
        from assetdb.spaces import visual_extractor

        with store.session() as s:
            visual, visual_opts = visual_extractor(s)
        if visual != "concepts":
            names = [visual if n == "concepts" else n for n in names]
            options = {**options, visual: {**visual_opts, **options.get(visual, {})}}
    names = [n for n in names if n not in set(disabled) and not (n == "clip" and "concepts" in disabled)]
    versions = {n: ext_registry.get_extractor(n, **options.get(n, {})).version for n in names}
    roots = [Path(p).absolute() for p in paths]
    data_dir = store.settings.data_dir

    scanned = scan(roots)
    report.scanned = len(scanned.files)
    report.skipped_not_media = scanned.skipped
    report.scan_errors = [{"path": pipeline.display_path(p), "error": e} for p, e in scanned.errors]
    emit("scanned", {"files": len(scanned.files)})

    tasks: list[Task] = []
    seen_ids: set[int] = set()
    with store.session() as s:
        for p in scanned.files:
            text = pipeline.display_path(p)
            raw = os.fsencode(p)
            path_bytes = raw if text.encode("utf-8") != raw else None
            try:
                st = p.stat()
            except OSError as exc:
                report.failed.append({"path": text, "error": f"cannot stat: {exc.strerror}"})
                continue
            asset = s.execute(select(Asset).where(Asset.path == text)).scalar_one_or_none()
            catalogue = False
            if asset is not None and asset.size == st.st_size and asset.mtime_ns == st.st_mtime_ns:
                if asset.state == STATE_FAILED and not retry_failed:
                    seen_ids.add(asset.id)
                    report.unchanged += 1
                    continue
                report.unchanged += 1
            else:
                try:
                    digest = content_hash(p, st.st_size) if st.st_size else "empty"
                except OSError as exc:
                    digest = None
                    hash_error = f"cannot read: {exc.strerror}"
                if asset is not None:
                    report.rehashed += 1
                    if digest is not None and digest == asset.content_hash and asset.state != STATE_FAILED:
                        asset.size, asset.mtime_ns = st.st_size, st.st_mtime_ns
                        report.unchanged += 1
                    else:
                        report.changed += 1
                        catalogue = True
                else:
                    moved = None
                    if digest not in (None, "empty"):
                        for cand in s.execute(select(Asset).where(Asset.content_hash == digest)).scalars():
                            if cand.id not in seen_ids and not pipeline.fs_path(cand.path, cand.path_bytes).exists():
                                moved = cand
                                break
                    if moved is not None:
                        log.info("renamed: %s -> %s", moved.path, text)
                        moved.path, moved.path_bytes = text, path_bytes
                        moved.size, moved.mtime_ns = st.st_size, st.st_mtime_ns
                        moved.state = STATE_INDEXED if moved.state == STATE_MISSING else moved.state
                        moved.missing_since = None
                        asset = moved
                        report.renamed += 1
                    else:
                        asset = Asset(path=text, path_bytes=path_bytes, size=st.st_size,
                                      mtime_ns=st.st_mtime_ns, state=STATE_PENDING)
                        s.add(asset)
                        report.new += 1
                        catalogue = True
                if catalogue:
                    asset.size, asset.mtime_ns = st.st_size, st.st_mtime_ns
                    asset.content_hash = digest
                    asset.state = STATE_PENDING
                    if digest is None:
                        asset.state, asset.error = STATE_FAILED, hash_error
                        s.flush()
                        seen_ids.add(asset.id)
                        report.failed.append({"path": text, "error": hash_error})
                        continue
                s.flush()
            seen_ids.add(asset.id)
            if asset.state == STATE_PENDING:
                catalogue = True
            runs = {r.stage: r for r in s.execute(select(StageRun).where(StageRun.asset_id == asset.id)).scalars()}
            if not catalogue:
                cr = runs.get(pipeline.STAGE)
                if cr is None or cr.version != pipeline.VERSION:
                    catalogue = True
            if asset.state == STATE_FAILED and not catalogue:
                continue
            needed = _needed_extractors(runs, versions, catalogue, retry_failed)
            work = None if catalogue or not needed else _asset_work(asset, data_dir)
            if work is not None:
                # a stage that does not apply (no audio track, a still for the interest
                # stage) never gets a stage row: without this every re-run re-plans it
                needed = [n for n in needed
                          if ext_registry.get_extractor(n, **options.get(n, {})).applies_to(work)]
            if not catalogue and not needed:
                continue
            tasks.append(Task(asset.id, p, asset.content_hash or "", data_dir, catalogue, work,
                              needed, options))
        # files gone from disk under the scanned roots
        for a in s.execute(select(Asset).where(Asset.state != STATE_MISSING)).scalars():
            if a.id in seen_ids:
                continue
            fp = pipeline.fs_path(a.path, a.path_bytes)
            if not any(_is_under(fp, r) for r in roots):
                continue
            if fp.exists():
                continue
            report.missing.append(a.path)
            if prune:
                s.delete(a)
                shutil.rmtree(data_dir / "keyframes" / f"{a.id // 1000:04d}" / str(a.id), ignore_errors=True)
                report.pruned += 1
            elif a.missing_since is None:
                a.missing_since = utcnow()
    emit("planned", {"tasks": len(tasks)})

    try:
        results = _execute(tasks, workers) if ray_address is None else _execute_ray(tasks, ray_address)
        for result in results:
            _write_result(store, result, options, report)
            emit("done", {"asset_id": result.asset_id})
    except KeyboardInterrupt:
        report.interrupted = True
        raise
    finally:
        report.seconds = time.perf_counter() - t_start
    return report


def _is_under(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


def _write_result(store: Store, result: TaskResult, options: dict, report: IngestReport) -> None:
    if result.catalogue is not None:
        _write_catalogue(store, result.asset_id, result.catalogue, report)
        if not result.catalogue.ok:
            return
        report.stage_seconds["catalogue"] = report.stage_seconds.get("catalogue", 0.0) + result.catalogue.seconds
    work = result.work
    if work is None:
        return
    # segment ids now exist in SQL
    with store.session() as s:
        ids = dict(s.execute(select(Segment.index, Segment.id).where(Segment.asset_id == work.asset_id)).all())
    for seg in work.segments:
        seg.id = ids.get(seg.index)
    for outcome in result.stages:
        _write_stage(store, work, outcome, options, report)
    report.indexed += 1
    report.media_seconds += work.duration_s or 0.0


def _execute(tasks: list[Task], workers: int | None) -> Iterator[TaskResult]:
    if not tasks:
        return
    n = (os.cpu_count() or 1) if workers is None else workers
    if n <= 1 or len(tasks) == 1:
        for t in tasks:
            yield run_task(t)
        return
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")  # never fork a process that may hold model threads
    queue = list(reversed(tasks))
    crashes: dict[int, int] = {}
    while queue:
        pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                                   initargs=(logging.getLogger().getEffectiveLevel(),))
        pending: dict[Future, Task] = {}
        broken = False
        try:
            while queue or pending:
                while queue and not broken and len(pending) < n * MAX_IN_FLIGHT_PER_WORKER:
                    t = queue.pop()
                    pending[pool.submit(run_task, t)] = t
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    t = pending.pop(f)
                    try:
                        yield f.result()
                    except BrokenProcessPool:
                        # A worker died (a decoder crash on a bad file, or the OOM killer):
                        # retry its tasks once in a fresh pool, then record them as failed.
                        broken = True
                        crashes[t.asset_id] = crashes.get(t.asset_id, 0) + 1
                        if crashes[t.asset_id] >= 2 or not t.catalogue:
                            yield _crashed(t)
                        else:
                            queue.append(t)
        except BaseException:
            for f in pending:
                f.cancel()
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=not broken, cancel_futures=broken)


def _execute_ray(tasks: list[Task], address: str) -> Iterator[TaskResult]:
    """Run the same stage functions as Ray tasks ("auto" joins a running cluster, "local"
    starts one here). The writer stays in this process; the data dir must be shared."""
    try:
        import ray
    except ImportError as exc:
        raise AssetdbError("Ray is not installed: pip install 'assetdb[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
                 log_to_driver=False, include_dashboard=False)
    remote = ray.remote(max_retries=1)(run_task)
    refs = {remote.remote(t): t for t in tasks}
    while refs:
        done, _ = ray.wait(list(refs), num_returns=1)
        t = refs.pop(done[0])
        try:
            yield ray.get(done[0])
        except ray.exceptions.RayError:
            yield _crashed(t)


def _crashed(t: Task) -> TaskResult:
    err = "the worker process crashed on this file"
    if t.catalogue:
        return TaskResult(t.asset_id, StageOutcome(pipeline.STAGE, pipeline.VERSION, False,
                                                   error=err), [], None)
    return TaskResult(t.asset_id, None,
                      [StageOutcome(name, ext_registry.version_of(name), False, error=err)
                       for name in t.extractors], t.work)


__all__ = ["EXIT_SOME_FAILED", "IngestReport", "MediaError", "ingest", "scan"]
