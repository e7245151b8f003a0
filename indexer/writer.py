"""The one writer: every stored ingest result goes through here.

The catalogue result and each extractor's result are written together with their
``stage_runs`` row in one transaction (``transaction``), so a crash, kill -9 or Ctrl-C
leaves a consistent store and the next run resumes. Ctrl-C (SIGINT) is held back while
a transaction is open and raised as KeyboardInterrupt once it has committed or rolled
back: interrupting a driver mid-commit leaves SQLAlchemy's connection state broken
(an AssertionError instead of a clean exit on PostgreSQL).
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from assetdb import layout
from assetdb.db import Store
from assetdb.errors import AssetdbError
from assetdb.records import IN_CHUNK, TextRow, replace_texts_many, segment_ids
from assetdb.schema import (
    STATE_FAILED,
    STATE_INDEXED,
    Asset,
    Keyframe,
    Segment,
    StageRun,
    utcnow,
)
from indexer.rows import STORES, STORES_MANY
from indexer.work import AssetWork, StageOutcome, TaskResult, one_line

log = logging.getLogger(__name__)

DONE = "done"
FAILED = "failed"
# tags that say nothing about the content (not worth indexing as text)
TECHNICAL_TAGS = frozenset(
    {"encoder", "major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id"}
)

_deferring = threading.local()


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold SIGINT back for the block; raise KeyboardInterrupt after it if one came.
    A no-op outside the main thread (only it receives signals) and when nested."""
    if threading.current_thread() is not threading.main_thread() or getattr(
        _deferring, "active", False
    ):
        yield
        return
    caught: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if previous in (signal.SIG_IGN, None):  # interrupts are off (a worker): nothing to hold
        yield
        return
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    _deferring.active = True
    try:
        yield
    finally:
        _deferring.active = False
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


@contextmanager
def transaction(store: Store, *, interruptible: bool = False) -> Iterator[Session]:
    """A session in one write transaction, with Ctrl-C deferred until it has ended.

    ``interruptible``: Ctrl-C may stop the block itself (a long one, like planning an
    ingest, which hashes files); only its commit or rollback is held back."""
    if not interruptible:
        with sigint_deferred(), store.session() as s:
            yield s
        return
    s = Session(store.engine, expire_on_commit=False)
    try:
        s.begin()
        yield s
        with sigint_deferred():
            s.commit()
    except BaseException:
        with sigint_deferred():
            s.rollback()
        raise
    finally:
        s.close()


def set_stage_run(
    session: Session,
    asset_id: int,
    stage: str,
    version: str,
    *,
    error: str | None = None,
    seconds: float | None = None,
) -> StageRun:
    """Insert or update the (asset, stage) row: done, or failed with ``error``."""
    run = session.execute(
        select(StageRun).where(StageRun.asset_id == asset_id, StageRun.stage == stage)
    ).scalar_one_or_none()
    if run is None:
        run = StageRun(asset_id=asset_id, stage=stage)
        session.add(run)
    run.version = version
    run.state = DONE if error is None else FAILED
    run.error = error
    if seconds is not None:
        run.seconds = seconds
    return run


# ---------------------------------------------------------------- catalogue


@dataclass
class CatalogueWrite:
    path: str  # the asset's stored path
    error: str | None  # the catalogue stage failed (recorded on the asset)
    duration_s: float | None = None


def words_of_name(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    spaced = re.sub(r"[_\-.+]+", " ", stem)
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", spaced)
    return f"{name} {spaced}".strip()


def write_catalogue(store: Store, asset_id: int, outcome: StageOutcome) -> CatalogueWrite | None:
    """Replace an asset's catalogue (probe facts, segments, keyframes, name/tag/sidecar
    text) and drop its other stage rows. None when the asset is gone."""
    written = write_result(store, asset_id, outcome, None, [], None)
    return None if written is None else written.catalogue


@dataclass
class ResultWrite:
    """What ``write_result`` stored: the catalogue's outcome (None when it was not part
    of the result) and the error of each stage that failed, run or write."""

    catalogue: CatalogueWrite | None
    stage_errors: dict[str, str]


def write_result(
    store: Store,
    asset_id: int,
    catalogue: StageOutcome | None,
    work: AssetWork | None,
    stages: list[StageOutcome],
    extractor: Any,
) -> ResultWrite | None:
    """Store one part of an asset's task in one transaction (``write_results`` of one)."""
    return write_results(store, [TaskResult(asset_id, catalogue, stages, work)], extractor)[0]


def write_results(store: Store, results: Sequence[TaskResult],
                  extractor: Any) -> list[ResultWrite | None]:
    """Store parts of assets' tasks (a job's results) in one transaction: each one's
    catalogue (when given) and extractor outcomes with their stage rows
    (``extractor(name)`` gives the extractor). One per result, in order: None when the
    asset is gone.

    A failed catalogue writes no stages. A stage whose rows fail to store is recorded as
    failed with the write's error and the rest stays. Rows go in as one multi-row INSERT
    per table for all the results (a batch that fails to store is written again result by
    result, to find the one that fails). The works' segment ids are filled in."""
    out: list[ResultWrite | None] = [None] * len(results)
    data_dir = Path(store.settings.data_dir)
    kept: list[tuple[int, str]] = []
    for group in _distinct_assets(range(len(results)), results):
        with transaction(store) as s:
            assets = _load_assets(s, sorted({results[i].asset_id for i in group}))
            live = [i for i in group if results[i].asset_id in assets]
            cats = [i for i in live if results[i].catalogue is not None]
            for i, w in zip(cats, _write_catalogues(
                    s, [(assets[results[i].asset_id], results[i].catalogue) for i in cats],
                    data_dir), strict=True):
                out[i] = ResultWrite(w, {})
                if w.error is None:
                    kept.append((results[i].asset_id, results[i].catalogue.result.keyframe_dir))
            for i in live:
                if out[i] is None:
                    out[i] = ResultWrite(None, {})
            stage = [i for i in live if results[i].work is not None
                     and (out[i].catalogue is None or out[i].catalogue.error is None)]
            ids = segment_ids_many(s, [results[i].asset_id for i in stage])
            for i in stage:
                for seg in results[i].work.segments:
                    seg.id = ids.get(results[i].asset_id, {}).get(seg.index)
            names = list(dict.fromkeys(o.name for i in stage for o in results[i].stages))
            for name in names:
                todo = [(i, o) for i in stage for o in results[i].stages if o.name == name]
                for (i, _), error in zip(todo, _write_stages(
                        s, [(results[i].work, o) for i, o in todo], extractor(name)),
                        strict=True):
                    if error is not None:
                        out[i].stage_errors[name] = error
    for asset_id, keyframe_dir in kept:  # keyframes of older versions are unused now
        layout.remove_old_keyframes(data_dir, asset_id, keyframe_dir)
    return out


def _distinct_assets(indexes: Iterable[int], results: Sequence[TaskResult]) -> Iterator[list[int]]:
    """Consecutive runs of results with no asset twice (each run is one transaction)."""
    group: list[int] = []
    seen: set[int] = set()
    for i in indexes:
        if results[i].asset_id in seen:
            yield group
            group, seen = [], set()
        group.append(i)
        seen.add(results[i].asset_id)
    if group:
        yield group


def _load_assets(s: Session, asset_ids: list[int]) -> dict[int, Asset]:
    assets: dict[int, Asset] = {}
    for i in range(0, len(asset_ids), IN_CHUNK):
        for a in s.execute(select(Asset).where(Asset.id.in_(asset_ids[i:i + IN_CHUNK]))).scalars():
            assets[a.id] = a
    return assets


def segment_ids_many(s: Session, asset_ids: list[int]) -> dict[int, dict[int, int]]:
    """Each asset's segment index -> SQL id map."""
    out: dict[int, dict[int, int]] = {}
    aids = sorted(set(asset_ids))
    for i in range(0, len(aids), IN_CHUNK):
        for aid, index, sid in s.execute(
            select(Segment.asset_id, Segment.index, Segment.id)
            .where(Segment.asset_id.in_(aids[i:i + IN_CHUNK]))
        ):
            out.setdefault(aid, {})[index] = sid
    return out


def _write_catalogues(s: Session, items: list[tuple[Asset, StageOutcome]],
                      data_dir: Path) -> list[CatalogueWrite]:
    """Replace the catalogues of ``items`` (asset, outcome): probe facts, segments,
    keyframes and name/path/tag/sidecar texts; their other stage rows go."""
    if not items:
        return []
    aids = sorted(a.id for a, _ in items)
    for i in range(0, len(aids), IN_CHUNK):
        chunk = aids[i:i + IN_CHUNK]
        s.execute(delete(StageRun).where(StageRun.asset_id.in_(chunk)))
        s.execute(delete(Segment).where(Segment.asset_id.in_(chunk)))
    out = []
    for asset, outcome in items:
        if outcome.ok:
            _store_probe(asset, outcome.result.probe)
        else:
            asset.state = STATE_FAILED
            asset.error = outcome.error
        out.append(CatalogueWrite(asset.path, outcome.error,
                                  asset.duration_s if outcome.ok else None))
    s.flush()
    ok = [(a, o.result) for a, o in items if o.ok]
    segments = [(a.id, seg) for a, r in ok for seg in r.segments]
    seg_ids: list[int] = []
    if segments:
        # one multi-row INSERT .. RETURNING for the segments, one for their keyframes
        seg_ids = s.execute(
            insert(Segment.__table__).returning(Segment.__table__.c.id,
                                                sort_by_parameter_order=True),
            [{"asset_id": aid, "index": int(seg.index), "kind": seg.kind,
              "time_base_num": seg.time_base.numerator,
              "time_base_den": seg.time_base.denominator,
              "start_ts": int(seg.start_ts), "end_ts": int(seg.end_ts),
              "start_frame": int(seg.start_frame), "end_frame": int(seg.end_frame),
              "rate_num": seg.rate.numerator if seg.rate else None,
              "rate_den": seg.rate.denominator if seg.rate else None,
              "transition": seg.transition} for aid, seg in segments],
        ).scalars().all()  # fmt: skip
    ids: dict[int, dict[int, int]] = {}
    for (aid, seg), sid in zip(segments, seg_ids, strict=True):
        ids.setdefault(aid, {})[int(seg.index)] = sid
    # plain ints: a numpy integer is stored by SQLite as a blob of raw bytes
    keyframes = [
        {"segment_id": ids[aid][int(seg.index)], "ts": int(k.ts), "frame": int(k.frame),
         "path": Path(k.path).relative_to(data_dir).as_posix(),
         "width": int(k.width), "height": int(k.height), "quality": float(k.quality),
         "stats": {n: float(v) for n, v in (k.stats or {}).items()}}
        for aid, seg in segments for k in seg.keyframes
    ]  # fmt: skip
    if keyframes:
        s.execute(insert(Keyframe.__table__), keyframes)
    replace_texts_many(s, list(CATALOGUE_TEXTS), [
        (a.id, source, rows, ids.get(a.id, {}))
        for a, r in ok for source, rows in _catalogue_texts(a, r).items()
    ])  # fmt: skip
    s.execute(insert(StageRun.__table__), [
        {"asset_id": a.id, "stage": o.name, "version": o.version,
         "state": DONE if o.ok else FAILED, "error": None if o.ok else o.error,
         "seconds": o.seconds} for a, o in items
    ])  # fmt: skip
    return out


def _write_stages(s: Session, items: list[tuple[AssetWork, StageOutcome]],
                  ext: Any) -> list[str | None]:
    """One extractor's outcomes for several assets, with their stage rows; the error
    recorded for each (the run's or the write's), None where done."""
    if not items:
        return []
    errors: list[str | None] = [o.error for _, o in items]
    ok = [j for j, (_, o) in enumerate(items) if o.ok]
    many = STORES_MANY.get(ext.name)
    stored = False
    if many is not None and len(ok) > 1:
        try:
            with s.begin_nested():
                many(s, [(items[j][0], items[j][1].result) for j in ok], ext)
            stored = True
        except Exception:  # find the result that fails: one by one below
            log.debug("writing %s for %d assets failed", ext.name, len(ok), exc_info=True)
    if not stored:
        for j in ok:
            work, outcome = items[j]
            try:
                with s.begin_nested():
                    STORES[ext.name](s, work, outcome.result, ext)
            except Exception as exc:  # a failed write is recorded like a failed run
                log.debug("writing %s failed", ext.name, exc_info=True)
                errors[j] = one_line(exc)
    aids = sorted({work.asset_id for work, _ in items})
    for i in range(0, len(aids), IN_CHUNK):
        s.execute(delete(StageRun).where(StageRun.asset_id.in_(aids[i:i + IN_CHUNK]),
                                         StageRun.stage == ext.name))
    s.execute(insert(StageRun.__table__), [
        {"asset_id": work.asset_id, "stage": outcome.name, "version": outcome.version,
         "state": DONE if error is None else FAILED, "error": error,
         "seconds": outcome.seconds}
        for (work, outcome), error in zip(items, errors, strict=True)
    ])  # fmt: skip
    return errors


def _store_probe(asset: Asset, p: Any) -> None:
    asset.kind = p.kind
    asset.container = p.container
    asset.mime = p.mime
    asset.duration_s = p.duration_s
    asset.frame_rate_num = p.frame_rate.numerator if p.frame_rate else None
    asset.frame_rate_den = p.frame_rate.denominator if p.frame_rate else None
    asset.variable_frame_rate = p.variable_frame_rate
    asset.frame_count = None if p.frame_count is None else int(p.frame_count)
    asset.width, asset.height, asset.rotation = p.width, p.height, p.rotation
    asset.video_codec, asset.audio_codec = p.video_codec, p.audio_codec
    asset.audio_streams = p.audio_streams
    asset.subtitle_streams = p.subtitle_streams
    asset.tags = p.tags
    asset.created_at = p.created_at
    asset.start_tc_frames = int(p.start_tc_frames or 0)
    asset.tc_drop = bool(p.tc_drop)
    asset.reel = p.reel
    asset.warnings = p.warnings
    asset.state = STATE_INDEXED
    asset.error = None
    asset.indexed_at = utcnow()


CATALOGUE_TEXTS = ("filename", "path", "tags", "sidecar")


def _catalogue_texts(asset: Asset, r: Any) -> dict[str, list[TextRow]]:
    path = Path(asset.path)
    tags = r.probe.tags or {}
    tag_text = " ".join(f"{v}" for k, v in tags.items() if k.lower() not in TECHNICAL_TAGS)
    return {
        "filename": [TextRow(words_of_name(path.name))],
        "path": [TextRow(" ".join(words_of_name(x) for x in path.parent.parts[-4:]))],
        "tags": [TextRow(tag_text)],
        "sidecar": [TextRow(t) for t in r.sidecars.values()],
    }


def attach_segment_ids(store: Store, work: AssetWork) -> None:
    """Fill the work item's segment ids from the stored segments (after a catalogue write)."""
    with store.session() as s:
        ids = segment_ids(s, work.asset_id)
    for seg in work.segments:
        seg.id = ids.get(seg.index)


# ---------------------------------------------------------------- extractors


def write_stage(store: Store, work: AssetWork, outcome: StageOutcome, ext: Any) -> str | None:
    """Store one extractor's outcome with its stage row in one transaction. Returns the
    error recorded (the run's, or the write's when storing fails), None when done."""
    written = write_result(store, work.asset_id, None, work, [outcome], lambda name: ext)
    return None if written is None else written.stage_errors.get(outcome.name)


def store_result(store: Store, work: AssetWork, ext: Any, result: Any, seconds: float = 0.0) -> None:
    """Write one successful extractor result; raises when storing it fails."""
    error = write_stage(store, work, StageOutcome(ext.name, ext.version, True, result,
                                                  seconds=seconds), ext)
    if error is not None:
        raise AssetdbError(f"storing {ext.name} failed: {error}")


# ---------------------------------------------------------------- removal


def prune_asset(session: Session, asset: Asset) -> None:
    """Delete an asset's rows; its files go with ``remove_files`` once committed."""
    session.delete(asset)
    session.flush()


def remove_files(store: Store, asset_ids: list[int]) -> None:
    """Delete the data-dir files of pruned assets (after their rows are gone)."""
    for aid in asset_ids:
        layout.remove_asset_files(store.settings.data_dir, aid)
