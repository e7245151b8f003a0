"""Where stage functions run: in this process, in a local process pool, or on Ray.

Runners know nothing of planning or storing: they take ``Task`` work items, hand the
jobs of an ``indexer.schedule.Scheduler`` (catalogues, then model stages batched across
assets) to ``indexer.stages.run_batch`` and yield ``TaskResult``s (picklable, no database
handles) for the writer in the main process. A result is yielded before the follow-up
jobs it makes possible are handed out, so an asset's catalogue is written before any of
its extractor results.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from assetdb.models.base import THREADS_ENV
from indexer import extractors as ext_registry
from indexer.catalogue import STAGE as CATALOGUE_STAGE
from indexer.catalogue import VERSION as CATALOGUE_VERSION
from indexer.schedule import DEFAULT_BATCH_SIZE, SHOTS, Job, Scheduler
from indexer.stages import run_batch
from indexer.work import StageOutcome, Task, TaskResult

log = logging.getLogger(__name__)

MAX_IN_FLIGHT_PER_WORKER = 2
CRASHED = "the worker process crashed on this file"
# What one worker process may use with every default model loaded (about 530 MiB at
# rest; bench/ingest.py measured peaks of 0.93-1.36 GiB over the sample stills and
# videos). The default worker count never asks for more than the memory available.
WORKER_MEMORY_MIB = 1536


def _available_mib() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def default_workers() -> int:
    """One worker per core, as many as the available memory holds at WORKER_MEMORY_MIB."""
    n = os.cpu_count() or 1
    mib = _available_mib()
    if mib is not None:
        n = min(n, max(1, mib // WORKER_MEMORY_MIB))
    return n


def crashed(t: Task) -> TaskResult:
    """The result recorded for a task whose worker died."""
    if t.catalogue:
        return TaskResult(t.asset_id, StageOutcome(CATALOGUE_STAGE, CATALOGUE_VERSION, False,
                                                   error=CRASHED), [], None)
    return TaskResult(t.asset_id, None,
                      [StageOutcome(name, ext_registry.version_of(name), False, error=CRASHED)
                       for name in t.extractors], t.work)


def run_here(tasks: list[Task], batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[TaskResult]:
    """Every job in this process, one after the other."""
    for results in run_here_batches(tasks, batch_size):
        yield from results


def run_here_batches(tasks: list[Task],
                     batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[list[TaskResult]]:
    """``run_here``, one list of results per job (the writer stores each in one
    transaction)."""
    sched = Scheduler(tasks, batch_size=batch_size)
    while (job := sched.next_job()) is not None:
        results = run_batch(job.tasks)
        if job.stage != SHOTS:  # a stretch's analysis is for its catalogue, not the writer
            results = [sched.mark(r) for r in results]
            if results:
                yield results
        sched.finished(job, results)


def _init_worker(log_level: int, threads: int) -> None:
    import signal

    # the worker's models get their share of the cores (assetdb.models.base.thread_budget)
    os.environ.setdefault(THREADS_ENV, str(threads))
    # Ctrl-C is handled by the main process, which stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=log_level)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # model libraries print progress bars and banners; stderr is for our progress and logs
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_local(
    tasks: list[Task], workers: int | None, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[TaskResult]:
    """A pool of ``workers`` processes (default: ``default_workers()``); in this process
    for one.

    A worker that dies (a decoder crash on a bad file, the OOM killer) takes its job with
    it: the pool is replaced and each task of that job runs again on its own; a task that
    is lost twice is recorded as failed.
    """
    for results in run_local_batches(tasks, workers, batch_size):
        yield from results


def run_local_batches(
    tasks: list[Task], workers: int | None, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[list[TaskResult]]:
    """``run_local``, yielding together the results of every job that has finished
    since the last yield: the writer stores each list in one transaction, so the further
    it falls behind the workers, the more it writes a transaction. A job's follow-up
    jobs are submitted only after its results have been taken."""
    if not tasks:
        return
    n = default_workers() if workers is None else workers
    if n <= 1 or len(tasks) == 1:
        yield from run_here_batches(tasks, batch_size)
        return
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")  # never fork a process that may hold model threads
    sched = Scheduler(tasks, batch_size=batch_size, workers=n)
    retry: list[Job] = []
    crashes: dict[tuple[int, str, float], int] = {}
    while not sched.done or retry:
        pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                                   initargs=(logging.getLogger().getEffectiveLevel(),
                                             max(1, (os.cpu_count() or 1) // n)))
        pending: dict[Future, Job] = {}
        broken = False
        try:
            while True:
                while not broken and len(pending) < n * MAX_IN_FLIGHT_PER_WORKER:
                    if retry:
                        job = retry.pop()
                        sched.resubmitted()
                    else:
                        job = sched.next_job()
                    if job is None:
                        break
                    pending[pool.submit(run_batch, job.tasks)] = job
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                # the finished jobs' results go to the writer together; the follow-up
                # jobs they release are submitted only once the writer has them
                ready: list[TaskResult] = []
                for f in done:
                    job = pending.pop(f)
                    try:
                        results = f.result()
                    except BrokenProcessPool:
                        broken = True
                        for result in _after_crash(sched, job, retry, crashes):
                            yield [result]
                        continue
                    if job.stage != SHOTS:
                        results = [sched.mark(r) for r in results]
                        ready += results
                    sched.finished(job, results)
                if ready:
                    yield ready
        except BaseException:
            for f in pending:
                f.cancel()
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=not broken, cancel_futures=broken)


def _after_crash(
    sched: Scheduler, job: Job, retry: list[Job], crashes: dict[tuple[int, str, float], int]
) -> Iterator[TaskResult]:
    """A job lost with its worker: a batch is split and retried task by task; a single
    task is retried once, then recorded as crashed (a pool that breaks takes every job in
    flight with it, not only the one that killed it)."""
    if len(job.tasks) > 1:
        retry.extend(sched.retry(job))
        return
    (t,) = job.tasks
    key = (t.asset_id, job.stage, t.shot_stretch.start_s if t.shot_stretch else 0.0)
    crashes[key] = crashes.get(key, 0) + 1
    if crashes[key] >= 2 and job.stage == SHOTS:
        sched.lost(job)
    elif crashes[key] >= 2:
        result = sched.mark(crashed(t))
        yield result
        sched.finished(job, [result])
    else:
        retry.extend(sched.retry(job))


def run_ray(tasks: list[Task], address: str,
            batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[TaskResult]:
    """The same stage functions as a Ray Data pipeline (``indexer.raydata``: catalogue
    tasks, then an actor pool per model over batches across assets). "local" starts Ray
    here, "auto" or an address joins a cluster. One result per asset (its catalogue and
    stages together); the writer stays in this process; the data dir must be shared."""
    from indexer import raydata

    yield from raydata.run(tasks, address, batch_size)


def run_ray_batches(tasks: list[Task], address: str,
                    batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[list[TaskResult]]:
    """``run_ray``, a block of results at a time."""
    from indexer import raydata

    yield from raydata.run_batches(tasks, address, batch_size)
