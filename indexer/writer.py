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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assetdb import layout
from assetdb.db import Store
from assetdb.errors import AssetdbError
from assetdb.records import TextRow, replace_texts, segment_ids
from assetdb.schema import (
    STATE_FAILED,
    STATE_INDEXED,
    Asset,
    Keyframe,
    Segment,
    StageRun,
    utcnow,
)
from indexer.rows import STORES
from indexer.work import AssetWork, StageOutcome, one_line

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
    data_dir = Path(store.settings.data_dir)
    with transaction(store) as s:
        asset = s.get(Asset, asset_id)
        if asset is None:
            return None
        s.execute(delete(StageRun).where(StageRun.asset_id == asset_id))
        s.execute(delete(Segment).where(Segment.asset_id == asset_id))
        if not outcome.ok:
            asset.state = STATE_FAILED
            asset.error = outcome.error
            s.add(StageRun(asset_id=asset_id, stage=outcome.name, version=outcome.version,
                           state=FAILED, error=outcome.error, seconds=outcome.seconds))
            return CatalogueWrite(asset.path, outcome.error)
        r = outcome.result
        _store_probe(asset, r.probe)
        s.flush()
        for seg in r.segments:
            row = Segment(
                asset_id=asset_id, index=int(seg.index), kind=seg.kind,
                time_base_num=seg.time_base.numerator, time_base_den=seg.time_base.denominator,
                start_ts=int(seg.start_ts), end_ts=int(seg.end_ts),
                start_frame=int(seg.start_frame), end_frame=int(seg.end_frame),
                rate_num=seg.rate.numerator if seg.rate else None,
                rate_den=seg.rate.denominator if seg.rate else None,
                transition=seg.transition,
            )  # fmt: skip
            for k in seg.keyframes:
                # plain ints: a numpy integer is stored by SQLite as a blob of raw bytes
                row.keyframes.append(Keyframe(
                    ts=int(k.ts), frame=int(k.frame),
                    path=Path(k.path).relative_to(data_dir).as_posix(),
                    width=int(k.width), height=int(k.height), quality=float(k.quality),
                    stats={n: float(v) for n, v in (k.stats or {}).items()},
                ))  # fmt: skip
            s.add(row)
        s.flush()
        _store_catalogue_texts(s, asset, r)
        s.add(StageRun(asset_id=asset_id, stage=outcome.name, version=outcome.version,
                       state=DONE, seconds=outcome.seconds))
        written = CatalogueWrite(asset.path, None, asset.duration_s)
    # keyframes of an older version of this file are no longer referenced
    layout.remove_old_keyframes(data_dir, asset_id, r.keyframe_dir)
    return written


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


def _store_catalogue_texts(s: Session, asset: Asset, r: Any) -> None:
    path = Path(asset.path)
    replace_texts(s, asset.id, "filename", [TextRow(words_of_name(path.name))])
    replace_texts(s, asset.id, "path",
                  [TextRow(" ".join(words_of_name(x) for x in path.parent.parts[-4:]))])
    tags = r.probe.tags or {}
    tag_text = " ".join(f"{v}" for k, v in tags.items() if k.lower() not in TECHNICAL_TAGS)
    replace_texts(s, asset.id, "tags", [TextRow(tag_text)])
    replace_texts(s, asset.id, "sidecar", [TextRow(t) for t in r.sidecars.values()])


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
    error = outcome.error
    with transaction(store) as s:
        if s.get(Asset, work.asset_id) is None:
            return None
        if outcome.ok:
            try:
                with s.begin_nested():
                    STORES[outcome.name](s, work, outcome.result, ext)
            except Exception as exc:  # a failed write is recorded like a failed run
                log.debug("writing %s failed", outcome.name, exc_info=True)
                error = one_line(exc)
        set_stage_run(s, work.asset_id, outcome.name, outcome.version, error=error,
                      seconds=outcome.seconds)
    return error


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
