"""Where stage functions run: in this process, in a local process pool, or as Ray tasks.

Runners know nothing of planning or storing: they take ``Task`` work items and yield
``TaskResult``s (picklable, no database handles) for the writer in the main process.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from assetdb.errors import AssetdbError
from indexer import catalogue as cat
from indexer import extractors as ext_registry
from indexer.work import StageOutcome, Task, TaskResult, one_line

log = logging.getLogger(__name__)

MAX_IN_FLIGHT_PER_WORKER = 2
CRASHED = "the worker process crashed on this file"


def run_task(task: Task) -> TaskResult:
    """Worker side: the catalogue stage if needed, then each extractor. No database."""
    outcome: StageOutcome | None = None
    work = task.work
    if task.catalogue:
        t0 = time.perf_counter()
        try:
            r = cat.catalogue_asset(task.path, task.asset_id, task.data_dir, task.content_hash)
            outcome = StageOutcome(cat.STAGE, cat.VERSION, True, r,
                                   seconds=time.perf_counter() - t0)
            work = cat.work_from_result(task.asset_id, task.path, task.data_dir, r)
        except Exception as exc:  # any failure is recorded, the run goes on
            log.debug("catalogue failed for %s", task.path, exc_info=True)
            outcome = StageOutcome(cat.STAGE, cat.VERSION, False, error=one_line(exc),
                                   seconds=time.perf_counter() - t0)
            return TaskResult(task.asset_id, outcome, [], None)
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
        except Exception as exc:  # noqa: BLE001 - recorded like a catalogue failure
            log.debug("%s failed for %s:\n%s", name, task.path, traceback.format_exc())
            stages.append(StageOutcome(name, ext.version, False, error=one_line(exc),
                                       seconds=time.perf_counter() - t0))
    return TaskResult(task.asset_id, outcome, stages, work)


def crashed(t: Task) -> TaskResult:
    """The result recorded for a task whose worker died."""
    if t.catalogue:
        return TaskResult(t.asset_id, StageOutcome(cat.STAGE, cat.VERSION, False, error=CRASHED),
                          [], None)
    return TaskResult(t.asset_id, None,
                      [StageOutcome(name, ext_registry.version_of(name), False, error=CRASHED)
                       for name in t.extractors], t.work)


def run_here(tasks: list[Task]) -> Iterator[TaskResult]:
    for t in tasks:
        yield run_task(t)


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


def run_local(tasks: list[Task], workers: int | None) -> Iterator[TaskResult]:
    """A pool of ``workers`` processes (default: one per CPU); in this process for one."""
    if not tasks:
        return
    n = (os.cpu_count() or 1) if workers is None else workers
    if n <= 1 or len(tasks) == 1:
        yield from run_here(tasks)
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
                            yield crashed(t)
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


def run_ray(tasks: list[Task], address: str) -> Iterator[TaskResult]:
    """The same stage functions as Ray tasks ("auto" joins a running cluster, "local"
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
            yield crashed(t)
