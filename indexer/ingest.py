"""Incremental, resumable, parallel ingest: scan -> plan -> run -> write.

The main process scans (``indexer.scan``), decides the work (``indexer.plan``) and is
the only writer (``indexer.writer``); a runner (``indexer.runners``: this process, a
process pool or Ray) runs the stage functions (catalogue, then each extractor). Each
(asset, stage, version) is written with its ``stage_runs`` row in one transaction, so a
crash, kill -9 or Ctrl-C leaves a consistent store and the next run resumes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from assetdb.db import Store
from assetdb.errors import AssetdbError, MediaError, NotFound
from assetdb.media.probe import content_hash
from assetdb.media.sequences import exists as media_exists
from assetdb.media.sequences import stat as media_stat
from assetdb.paths import display_path, fs_path
from assetdb.schema import (
    STATE_FAILED,
    STATE_INDEXED,
    STATE_MISSING,
    STATE_PENDING,
    Asset,
    Segment,
    StageRun,
    utcnow,
)
from indexer import catalogue as cat
from indexer import extractors as ext_registry
from indexer import plan as pl
from indexer import runners, writer
from indexer.scan import is_under, normalise, scan
from indexer.schedule import DEFAULT_BATCH_SIZE
from indexer.work import Task, TaskResult, work_from_asset

log = logging.getLogger(__name__)

EXIT_SOME_FAILED = 3
# an ingest that indexed at least this share of the catalogue's files refreshes the
# query planner's statistics (Store.analyze)
ANALYZE_SHARE = 0.1


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


def _extractor(name: str, options: dict[str, dict[str, Any]]):
    return ext_registry.get_extractor(name, **options.get(name, {}))


def _stage_rows(runs: Iterable[StageRun]) -> dict[str, pl.StageRow]:
    return {r.stage: pl.StageRow(r.version, r.state) for r in runs}


def _extractor_names(
    store: Store, extractors: list[str] | None, disabled: Iterable[str], options: dict
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    names = list(ext_registry.DEFAULT_EXTRACTORS if extractors is None else extractors)
    if extractors is None:
        from assetdb.spaces import visual_extractor

        with store.session() as s:
            visual, visual_opts = visual_extractor(s)
        if visual != "concepts":
            names = [visual if n == "concepts" else n for n in names]
            options = {**options, visual: {**visual_opts, **options.get(visual, {})}}
    off = set(disabled)
    names = [n for n in names if n not in off and not (n == "clip" and "concepts" in off)]
    return names, options


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
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> IngestReport:
    """Index the media under ``paths``. See the module docstring for guarantees.

    ``batch_size``: keyframes (or segments) per model job; each model stage runs on
    batches gathered across assets (``indexer.schedule``)."""
    t_start = time.perf_counter()
    report = IngestReport()
    emit = progress or (lambda kind, data: None)
    names, options = _extractor_names(store, extractors, disabled, options or {})
    versions = {n: _extractor(n, options).version for n in names}
    roots = [normalise(p) for p in paths]

    scanned = scan(roots)
    report.scanned = len(scanned.files)
    report.skipped_not_media = scanned.skipped
    report.scan_errors = [{"path": display_path(p), "error": e} for p, e in scanned.errors]
    emit("scanned", {"files": len(scanned.files)})

    tasks = _plan_tasks(store, scanned.files, roots, versions, options, report,
                        prune=prune, retry_failed=retry_failed)
    emit("planned", {"tasks": len(tasks)})
    written: set[int] = set()

    try:
        batches = (runners.run_local_batches(tasks, workers, batch_size) if ray_address is None
                   else runners.run_ray_batches(tasks, ray_address, batch_size))
        for results in batches:  # each list in one transaction
            _write_results(store, results, options, report, written)
            for result in results:
                if result.complete:
                    emit("done", {"asset_id": result.asset_id})
        if report.indexed:
            _analyze_if_grown(store, report.indexed)
    except KeyboardInterrupt:
        report.interrupted = True
        raise
    finally:
        report.seconds = time.perf_counter() - t_start
    return report


def _analyze_if_grown(store: Store, indexed: int) -> None:
    """Refresh the planner's statistics when this ingest indexed at least
    ANALYZE_SHARE of the catalogue's files (bench/scale.py: PostgreSQL planned a 1M-shot
    archive with a small one's statistics)."""
    with store.session() as s:
        total = s.execute(select(func.count()).select_from(Asset)).scalar_one()
    if indexed >= ANALYZE_SHARE * total:
        store.analyze()


class _StoredWork:
    """The work item of a stored asset, made on first use (most files need none)."""

    def __init__(self, asset: Asset, data_dir: Path) -> None:
        self._asset, self._data_dir, self._work = asset, data_dir, None

    @property
    def work(self):
        if self._work is None:
            self._work = work_from_asset(self._asset, self._data_dir)
        return self._work


def _plan_tasks(
    store: Store,
    files: list[Path],
    roots: list[Path],
    versions: dict[str, str],
    options: dict[str, dict[str, Any]],
    report: IngestReport,
    *,
    prune: bool,
    retry_failed: bool,
) -> list[Task]:
    """Bring the asset rows up to date with the files and return the work to do."""
    data_dir = Path(store.settings.data_dir)
    tasks: list[Task] = []
    seen_ids: set[int] = set()
    with writer.transaction(store, interruptible=True) as s:
        for p in files:
            asset, catalogue = _asset_for_file(s, p, seen_ids, report, retry_failed)
            if asset is None:
                continue
            seen_ids.add(asset.id)
            runs = _stage_rows(s.execute(select(StageRun).where(StageRun.asset_id == asset.id))
                               .scalars())
            stored = _StoredWork(asset, data_dir)
            plan = pl.plan(asset.state, runs, versions, catalogue_stage=cat.STAGE,
                           catalogue_version=cat.VERSION, catalogue=catalogue,
                           retry_failed=retry_failed,
                           applies=lambda n, w=stored: _extractor(n, options).applies_to(w.work))
            if plan.empty:
                continue
            tasks.append(Task(asset.id, p, asset.content_hash or "", data_dir, plan.catalogue,
                              None if plan.catalogue else stored.work, plan.extractors, options))
        pruned = _mark_missing(s, roots, seen_ids, report, prune)
    writer.remove_files(store, pruned)
    return tasks


def _asset_for_file(
    s: Any, p: Path, seen_ids: set[int], report: IngestReport, retry_failed: bool
) -> tuple[Asset | None, bool]:
    """The asset row of a scanned file (inserted, renamed or updated) and whether its
    content must be catalogued; (None, False) when there is nothing to do."""
    text = display_path(p)
    raw = os.fsencode(p)
    path_bytes = raw if text.encode("utf-8") != raw else None
    try:
        size, mtime_ns = media_stat(p)  # an image sequence: all its frames
    except (OSError, MediaError) as exc:
        report.failed.append({"path": text,
                              "error": f"cannot stat: {getattr(exc, 'strerror', None) or exc}"})
        return None, False
    asset = s.execute(select(Asset).where(Asset.path == text)).scalar_one_or_none()
    stored = None if asset is None else pl.StoredFile(asset.state, asset.size, asset.mtime_ns,
                                                     asset.content_hash)
    check = pl.check_file(stored, size, mtime_ns, retry_failed=retry_failed)
    if check == pl.SKIP:
        seen_ids.add(asset.id)
        report.unchanged += 1
        return None, False
    if check == pl.SAME:
        report.unchanged += 1
        return asset, False
    hash_error = None
    try:
        digest = content_hash(p, size) if size else "empty"
    except OSError as exc:
        digest, hash_error = None, f"cannot read: {exc.strerror}"
    if asset is not None:
        report.rehashed += 1
        check = pl.check_file(stored, size, mtime_ns, digest=digest or "",
                              retry_failed=retry_failed)
        if check == pl.TOUCHED:
            asset.size, asset.mtime_ns = size, mtime_ns
            report.unchanged += 1
            s.flush()
            return asset, False
        report.changed += 1
    else:
        moved = _renamed_from(s, digest, seen_ids)
        if moved is not None:
            log.info("renamed: %s -> %s", moved.path, text)
            moved.path, moved.path_bytes = text, path_bytes
            moved.size, moved.mtime_ns = size, mtime_ns
            moved.state = STATE_INDEXED if moved.state == STATE_MISSING else moved.state
            moved.missing_since = None
            report.renamed += 1
            s.flush()
            return moved, False
        asset = Asset(path=text, path_bytes=path_bytes, size=size,
                      mtime_ns=mtime_ns, state=STATE_PENDING)
        s.add(asset)
        report.new += 1
    asset.size, asset.mtime_ns = size, mtime_ns
    asset.content_hash = digest
    asset.state = STATE_PENDING
    if digest is None:
        asset.state, asset.error = STATE_FAILED, hash_error
        s.flush()
        seen_ids.add(asset.id)
        report.failed.append({"path": text, "error": hash_error})
        return None, False
    s.flush()
    return asset, True


def _renamed_from(s: Any, digest: str | None, seen_ids: set[int]) -> Asset | None:
    """A stored asset with this content whose file is gone (the file was moved)."""
    if digest in (None, "empty"):
        return None
    for cand in s.execute(select(Asset).where(Asset.content_hash == digest)).scalars():
        if cand.id not in seen_ids and not media_exists(fs_path(cand.path, cand.path_bytes)):
            return cand
    return None


def _mark_missing(
    s: Any, roots: list[Path], seen_ids: set[int], report: IngestReport, prune: bool
) -> list[int]:
    """Assets under the scanned roots whose files are gone: marked missing, or pruned
    (their ids returned: their files are removed after the commit)."""
    pruned = []
    for a in s.execute(select(Asset).where(Asset.state != STATE_MISSING)).scalars().all():
        if a.id in seen_ids:
            continue
        fp = fs_path(a.path, a.path_bytes)
        if not any(is_under(fp, r) for r in roots) or media_exists(fp):
            continue
        report.missing.append(a.path)
        if prune:
            pruned.append(a.id)
            writer.prune_asset(s, a)
            report.pruned += 1
        elif a.missing_since is None:
            a.missing_since = utcnow()
    return pruned


def _write_results(store: Store, results: list[TaskResult], options: dict,
                   report: IngestReport, written_ids: set[int]) -> None:
    """Write results in one transaction: assets' catalogues, or some of their extractor
    outcomes (an asset's results can come in several parts; it counts once as indexed)."""
    stored = writer.write_results(store, results, lambda name: _extractor(name, options))
    for result, written in zip(results, stored, strict=True):
        _count_result(store, result, written, report, written_ids)


def _write_result(store: Store, result: TaskResult, options: dict, report: IngestReport,
                  written_ids: set[int]) -> None:
    _write_results(store, [result], options, report, written_ids)


def _count_result(store: Store, result: TaskResult, written: writer.ResultWrite | None,
                  report: IngestReport, written_ids: set[int]) -> None:
    work = result.work
    if written is None:  # the asset is gone
        return
    if result.catalogue is not None:
        if written.catalogue.error is not None:
            report.failed.append({"path": written.catalogue.path,
                                  "error": written.catalogue.error})
            return
        report.stage_seconds[cat.STAGE] = (report.stage_seconds.get(cat.STAGE, 0.0)
                                           + result.catalogue.seconds)
    if work is None:
        return
    path = None
    for outcome in result.stages:
        error = written.stage_errors.get(outcome.name)
        if error is not None:
            if path is None:
                with store.session() as s:
                    asset = s.get(Asset, work.asset_id)
                    path = asset.path if asset else display_path(work.path)
            report.stage_failures.append({"path": path, "stage": outcome.name, "error": error})
        report.stage_seconds[outcome.name] = (report.stage_seconds.get(outcome.name, 0.0)
                                              + outcome.seconds)
    if work.asset_id not in written_ids:
        written_ids.add(work.asset_id)
        report.indexed += 1
        report.media_seconds += work.duration_s or 0.0


# ---------------------------------------------------------------- one stored asset


def ensure_stages(
    store: Store,
    asset_id: int,
    names: list[str],
    *,
    options: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """Run the named extractors for one catalogued asset where their current version has
    not run yet (in this process, through the same plan and writer as an ingest: stage
    rows are recorded). Returns the names that ran. Raises NotFound for an unknown asset,
    AssetdbError when the asset is not catalogued or a stage fails."""
    options = options or {}
    versions = {n: _extractor(n, options).version for n in names}
    with store.session() as s:
        asset = s.execute(
            select(Asset).where(Asset.id == asset_id)
            .options(selectinload(Asset.segments).selectinload(Segment.keyframes))
        ).scalar_one_or_none()
        if asset is None:
            raise NotFound(f"no asset with id {asset_id}")
        if asset.state != STATE_INDEXED:
            raise AssetdbError(f"asset {asset_id} is not catalogued ({asset.state}); ingest it first")
        work = work_from_asset(asset, store.settings.data_dir)
        runs = _stage_rows(s.execute(select(StageRun).where(StageRun.asset_id == asset_id))
                           .scalars())
        plan = pl.plan(asset.state, runs, versions, catalogue_stage=cat.STAGE,
                       catalogue_version=cat.VERSION,
                       applies=lambda n: _extractor(n, options).applies_to(work))
        content = asset.content_hash or ""
    if plan.catalogue:
        raise AssetdbError(f"asset {asset_id}'s catalogue is out of date; ingest it again")
    if not plan.extractors:
        return []
    task = Task(asset_id, work.path, content, Path(store.settings.data_dir), False, work,
                plan.extractors, options)
    report = IngestReport()
    for result in runners.run_here([task]):
        _write_result(store, result, options, report, set())
    if report.stage_failures:
        f = report.stage_failures[0]
        raise AssetdbError(f"{f['stage']} failed for {f['path']}: {f['error']}")
    return plan.extractors


__all__ = ["EXIT_SOME_FAILED", "IngestReport", "ensure_stages", "ingest"]
