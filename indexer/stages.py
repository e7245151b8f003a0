"""The stage functions every runner calls: catalogue one asset, run one extractor over a
batch of assets. Plain functions over picklable work items: no database, no processes.

A model stage runs on a batch gathered across assets (``run_extractor``): one
``Extractor.run`` call over every work item of the batch, so a model sees batches of
keyframes or audio windows from many files. A failing batch is re-run item by item, so
one bad file fails only its own (asset, extractor) row.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Sequence

from indexer import catalogue as cat
from indexer import extractors as ext_registry
from indexer.work import AssetWork, StageOutcome, Task, TaskResult, extractor_order, one_line

log = logging.getLogger(__name__)


def run_catalogue(task: Task) -> tuple[StageOutcome, AssetWork | None]:
    """The catalogue stage of one asset (probe, shots, keyframes) and its work item."""
    t0 = time.perf_counter()
    try:
        r = cat.catalogue_asset(task.path, task.asset_id, task.data_dir, task.content_hash,
                                chunks=task.shot_chunks)
    except Exception as exc:
        log.debug("catalogue failed for %s", task.path, exc_info=True)
        return (StageOutcome(cat.STAGE, cat.VERSION, False, error=one_line(exc),
                             seconds=time.perf_counter() - t0), None)
    outcome = StageOutcome(cat.STAGE, cat.VERSION, True, r, seconds=time.perf_counter() - t0)
    return outcome, cat.work_from_result(task.asset_id, task.path, task.data_dir, r)


def run_shot_stretch(task: Task) -> StageOutcome:
    """The shot analysis pass over one stretch of a long video (``task.shot_stretch``)."""
    from indexer import shots

    t0 = time.perf_counter()
    st = task.shot_stretch
    assert st is not None
    start_s, end_s = st.start_s, st.end_s
    try:
        chunk = shots.analyse_chunk(task.path, st.frame_rate, st.stream_index, start_s, end_s)
    except Exception as exc:
        log.debug("shot analysis of %s [%s, %s) failed", task.path, start_s, end_s,
                  exc_info=True)
        return StageOutcome(SHOTS_STAGE, shots.VERSION, False, error=one_line(exc),
                            seconds=time.perf_counter() - t0)
    return StageOutcome(SHOTS_STAGE, shots.VERSION, True, chunk,
                        seconds=time.perf_counter() - t0)


SHOTS_STAGE = "shots"


def _weights(works: Sequence[AssetWork]) -> list[float]:
    # a batch's seconds are shared out by how much each item gave the model to do
    w = [max(1.0, float(len(x.keyframes)) + (x.duration_s or 0.0) / 10.0) for x in works]
    total = sum(w)
    return [x / total for x in w]


def run_extractor(name: str, options: dict, works: Sequence[AssetWork]) -> list[StageOutcome]:
    """One extractor over a batch of work items (all of which it applies to): one outcome
    per item, in order."""
    ext = ext_registry.get_extractor(name, **options.get(name, {}))
    if not works:
        return []
    t0 = time.perf_counter()
    try:
        ext.load()
        results = ext.run(list(works))
        if len(results) != len(works):
            raise RuntimeError(f"{name} returned {len(results)} results for {len(works)} items")
    except Exception:  # noqa: BLE001 - find the item that fails, keep the others
        if len(works) == 1:
            return [_failed(name, ext, works[0], t0)]
        log.debug("%s failed on a batch of %d; running its items one by one", name, len(works))
        return [o for w in works for o in run_extractor(name, options, [w])]
    seconds = time.perf_counter() - t0
    return [StageOutcome(name, ext.version, True, res, seconds=seconds * share)
            for res, share in zip(results, _weights(works), strict=True)]


def _failed(name: str, ext, work: AssetWork, t0: float) -> StageOutcome:
    import sys

    exc = sys.exc_info()[1]
    log.debug("%s failed for %s:\n%s", name, work.path, traceback.format_exc())
    return StageOutcome(name, ext.version, False, error=one_line(exc) if exc else "failed",
                        seconds=time.perf_counter() - t0)


def run_batch(tasks: Sequence[Task]) -> list[TaskResult]:
    """Worker side of one job: the catalogue stage of the tasks that need it, then each
    extractor once over every task that lists it (batched across assets). One result per
    task, in order."""
    results: list[TaskResult] = []
    for t in tasks:
        outcome = None
        work = t.work
        if t.shot_stretch is not None:
            outcome, work = run_shot_stretch(t), None
        elif t.catalogue:
            outcome, work = run_catalogue(t)
        results.append(TaskResult(t.asset_id, outcome, [], work))
    options = tasks[0].options if tasks else {}
    for name in extractor_order(tasks):
        ext = ext_registry.get_extractor(name, **options.get(name, {}))
        todo = [r for t, r in zip(tasks, results, strict=True)
                if name in t.extractors and r.work is not None and ext.applies_to(r.work)]
        outcomes = run_extractor(name, options, [r.work for r in todo])
        for r, o in zip(todo, outcomes, strict=True):
            r.stages.append(o)
    return results


def run_task(task: Task) -> TaskResult:
    """One asset's whole task (catalogue if needed, then each extractor)."""
    return run_batch([task])[0]


__all__ = ["run_batch", "run_catalogue", "run_extractor", "run_task"]
