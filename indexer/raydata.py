"""The ingest's stage functions as a Ray Data pipeline (``assetdb ingest --ray``).

Rows are assets: an ``asset_id`` column and a ``row`` column holding one pickled
``_Row`` (the task's extractor names and its ``TaskResult`` so far). The pipeline:

1. **catalogue**: ``map_batches`` with a plain function (CPU tasks, ``num_cpus=1``, a
   few rows a task) over the tasks that need one (``indexer.stages.run_catalogue``; a
   long video's shot analysis first in stretches, as Ray tasks at once);
   tasks whose work is stored (e.g. a re-run after an extractor version bump) skip it
   and join the next stage directly (a ``union``);
2. **one stage per extractor**, in the order the tasks list them: ``map_batches`` over an actor
   pool (``ExtractorStage``: one model per actor, loaded once), each batch
   of ``batch_size`` assets run by ``indexer.stages.run_extractor`` in chunks of at most
   ``batch_size`` keyframes/segments (the local runner's batch rule), each asset the
   extractor applies to getting its ``StageOutcome`` appended. CUDA models get
   ``num_gpus`` (a fraction for small models) when the cluster has GPUs and the
   ingest's device is cuda.

Ray Data's streaming executor gives back-pressure (nothing is materialised); the driver
iterates the output and yields one ``TaskResult`` per asset (catalogue and that asset's
stages together) to the single writer (``indexer.ingest``). A row whose catalogue
failed passes through the extractor stages untouched; an exception in a stage becomes
that (asset, stage)'s failed outcome. A block lost with its process (a decoder crash,
the OOM killer) is dropped by Ray Data (``max_errored_blocks``); its assets run again
one to a block, and an asset lost every time is recorded as crashed (its catalogue
failed: which stage killed the worker is not known).
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from indexer import catalogue as cat
from indexer import extractors as ext_registry
from indexer.schedule import DEFAULT_BATCH_SIZE, cost
from indexer.stages import run_catalogue, run_extractor
from indexer.work import AssetWork, StageOutcome, Task, TaskResult, extractor_order, one_line

log = logging.getLogger(__name__)

# Share of one GPU an actor of a CUDA model asks for (several small models per GPU).
GPU_SHARE: dict[str, float] = {"concepts": 0.25, "objects": 0.25, "faces": 0.25,
                               "clip": 0.5, "transcript": 0.5}
CATALOGUE_BATCH_ROWS = 2  # assets per catalogue task: small, a long video is one task
# A block lost with its worker is dropped (Ray Data's max_errored_blocks) and its assets
# run again, one a block: an asset lost in every attempt is recorded as crashed. Actor
# tasks are not retried by Ray (max_task_retries=0: with retries, Ray Data 2.60 stalled
# after an actor's death in 3 of 6 runs here); a block sent to an actor while it restarts
# is lost too, hence two attempts one a block.
ATTEMPTS = 3
MAX_INPUT_BLOCKS = 4096  # one asset a block up to this many, then several
LOCAL_OBJECT_STORE_BYTES = 1 << 30  # rows are pickled work items, not frames
WORKER_ENV = {  # what indexer.runners._init_worker sets for a local pool worker
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # an actor holds a fraction of a CPU: its models run one thread each (the local
    # pool's cores / workers budget, assetdb.models.base.thread_budget)
    "ASSETDB_THREADS": "1",
}


@dataclass
class _Row:
    """One asset's state between stages."""

    extractors: list[str]
    result: TaskResult


def _column(blobs: Sequence[bytes]) -> Any:
    import numpy as np

    col = np.empty(len(blobs), dtype=object)
    col[:] = list(blobs)
    return col


# ---------------------------------------------------------------- stages (on workers)


_remote_stretch = None


def catalogue_one(task: Task) -> tuple[StageOutcome, AssetWork | None]:
    """One asset's catalogue. A long video (``indexer.schedule.stretches``) has its shot
    analysis pass run first in stretches, as Ray tasks at once (this task waits on them;
    Ray lends them its CPU meanwhile), joined at exact frame boundaries as in the local
    runner; when a stretch fails the catalogue makes its own single pass."""
    global _remote_stretch
    from indexer.schedule import stretches
    from indexer.stages import run_shot_stretch

    parts = stretches(task)
    if len(parts) > 1:
        import ray

        if _remote_stretch is None:
            _remote_stretch = ray.remote(num_cpus=1, max_retries=1)(run_shot_stretch)
        refs = [_remote_stretch.remote(replace(task, extractors=[], shot_stretch=p))
                for p in parts]
        try:
            done = ray.get(refs)
        except ray.exceptions.RayError:
            log.warning("a shot stretch of %s was lost; one pass instead", task.path)
            done = []
        if done and all(o.ok for o in done):
            task = replace(task, shot_chunks=[o.result for o in done])
    return run_catalogue(task)  # records its own failures


def catalogue_batch(batch: dict[str, Any]) -> dict[str, Any]:
    """The catalogue stage over a batch of rows holding pickled ``Task``s."""
    out = []
    for blob in batch["row"]:
        task: Task = pickle.loads(blob)
        try:
            outcome, work = catalogue_one(task)
        except Exception as exc:  # noqa: BLE001 - never lose the row
            outcome, work = StageOutcome(cat.STAGE, cat.VERSION, False, error=one_line(exc)), None
        out.append(pickle.dumps(_Row(task.extractors, TaskResult(task.asset_id, outcome, [],
                                                                 work))))
    return {"asset_id": batch["asset_id"], "row": _column(out)}


def _chunks(items: list[tuple[int, _Row]], batch_size: int) -> Iterator[list[tuple[int, _Row]]]:
    """Consecutive items whose keyframes/segments add up to at most ``batch_size`` (a
    bigger item alone): the local scheduler's rule."""
    chunk: list[tuple[int, _Row]] = []
    total = 0
    for item in items:
        c = cost(item[1].result.work)
        if chunk and total + c > batch_size:
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += c
    if chunk:
        yield chunk


class ExtractorStage:
    """One extractor as a Ray Data actor: one instance (``get_extractor``) per actor
    process, made in ``__init__``; its model loads once, on the first batch it applies
    to (``run_extractor``), so a pool whose extractor applies to nothing in this ingest
    (no audio in a folder of stills) loads nothing, and a stage's seconds include its
    load as in the local runner."""

    def __init__(self, name: str, options: dict[str, dict[str, Any]], batch_size: int) -> None:
        logging.basicConfig(level=logging.WARNING)
        self.name, self.options, self.batch_size = name, options, max(1, int(batch_size))
        self.ext = None
        try:
            self.ext = ext_registry.get_extractor(name, **options.get(name, {}))
        except Exception:  # run_extractor makes it again and records the error
            log.warning("%s could not be made", name, exc_info=True)

    def _applies(self, row: _Row) -> bool:
        r = row.result
        if self.name not in row.extractors or r.work is None:
            return False
        if r.catalogue is not None and not r.catalogue.ok:
            return False
        try:
            return self.ext is None or self.ext.applies_to(r.work)
        except Exception:  # noqa: BLE001 - let run_extractor record it
            return True

    def _run(self, works: list[AssetWork]) -> list[StageOutcome]:
        try:
            return run_extractor(self.name, self.options, works)
        except Exception as exc:  # noqa: BLE001 - e.g. the extractor does not construct
            try:
                version = self.ext.version if self.ext else ext_registry.version_of(self.name)
            except Exception:  # noqa: BLE001
                version = "?"
            return [StageOutcome(self.name, version, False, error=one_line(exc)) for _ in works]

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        blobs = list(batch["row"])
        todo = []
        for i, blob in enumerate(blobs):
            row: _Row = pickle.loads(blob)
            if self._applies(row):
                todo.append((i, row))
        for chunk in _chunks(todo, self.batch_size):
            outcomes = self._run([row.result.work for _, row in chunk])
            for (i, row), outcome in zip(chunk, outcomes, strict=True):
                row.result.stages.append(outcome)
                blobs[i] = pickle.dumps(row)
        return {"asset_id": batch["asset_id"], "row": _column(blobs)}


# ---------------------------------------------------------------- the driver side


def connect(address: str) -> bool:
    """Start ("local") or join ("auto", "host:port", "ray://...") Ray, quietly. True when
    this call started it (the caller shuts it down)."""
    from assetdb.errors import AssetdbError

    try:
        import ray
    except ImportError as exc:
        raise AssetdbError("Ray is not installed: pip install 'assetdb[ray]'") from exc
    if ray.is_initialized():
        return False
    # the default (token auth on for a local instance) is fine: no need to say so
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(
        logging.ERROR)
    kw: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING,
                          "runtime_env": {"env_vars": WORKER_ENV}}
    if address == "local":
        ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,
                 object_store_memory=LOCAL_OBJECT_STORE_BYTES, **kw)
    else:
        try:
            ray.init(address=address, **kw)
        except ConnectionError as exc:
            raise AssetdbError(f"no Ray cluster at {address!r}: {one_line(exc)}") from exc
    return True


def _quiet_ray_data(n_tasks: int) -> None:
    import ray.data as rd

    ctx = rd.DataContext.get_current()
    terminal = sys.stderr.isatty()
    ctx.enable_progress_bars = terminal
    ctx.enable_operator_progress_bars = terminal
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    ctx.max_errored_blocks = max(1, n_tasks)  # a lost block is re-run, never fatal
    # its "high memory per worker" advice repeats every 30 s: a model actor is meant to
    # hold its model (hundreds of MiB)
    ctx.issue_detectors_config.detectors = []
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # "progress bars disabled" is what we asked for
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)


@dataclass
class Placement:
    """Resources of one extractor stage's actors."""

    num_cpus: float
    num_gpus: float
    pool: tuple[int, int]  # actors: at least, at most


def placements(names: list[str], options: dict[str, dict[str, Any]], cpus: float,
               gpus: float) -> dict[str, Placement]:
    """Actor resources per extractor stage from the cluster's CPUs and GPUs.

    CPU stages share what the catalogue tasks leave (one CPU): on a small machine each
    actor asks for a fraction of a CPU, so every stage's first actor fits; each pool
    may grow to about twice its even share. A CUDA model (the ingest's device is cuda
    and the cluster has GPUs) asks for ``GPU_SHARE`` of a GPU and grows to the GPUs
    it fits on."""
    k = max(1, len(names))
    spare = max(1.0, cpus - 1.0)
    cpu_share = max(0.05, min(1.0, spare / k))
    most = max(1, int(2 * spare / (k * cpu_share)))
    out = {}
    for n in names:
        device = str(options.get(n, {}).get("device", "cpu"))
        if gpus > 0 and device.startswith("cuda") and n in GPU_SHARE:
            share = GPU_SHARE[n]
            out[n] = Placement(cpu_share, share, (1, max(1, int(gpus / share))))
        else:
            out[n] = Placement(cpu_share, 0.0, (1, most))
    return out


def device_options(names: list[str], options: dict[str, dict[str, Any]],
                   gpus: float) -> dict[str, dict[str, Any]]:
    """The options the actors get: a cuda device on a cluster without GPUs falls back to
    cpu (logged); with GPUs, "cuda:N" becomes "cuda" (Ray picks an actor's GPU and
    shows it as device 0)."""
    out = dict(options)
    for n in names:
        dev = str(options.get(n, {}).get("device", "cpu"))
        if not dev.startswith("cuda"):
            continue
        if gpus <= 0:
            log.warning("%s: device %s asked for but the Ray cluster has no GPU; using cpu",
                        n, dev)
            out[n] = {**options[n], "device": "cpu"}
        elif dev != "cuda" and n in GPU_SHARE:
            out[n] = {**options[n], "device": "cuda"}
    return out


def build(tasks: Sequence[Task], batch_size: int, cpus: float, gpus: float,
          one_per_block: bool = False):
    """The lazy Ray Data dataset for ``tasks`` (nothing runs until it is iterated).
    ``one_per_block``: every asset on its own (the re-run of assets a crash lost)."""
    import ray.data as rd

    names = extractor_order(tasks)
    options = device_options(names, tasks[0].options if tasks else {}, gpus)
    new = [t for t in tasks if t.catalogue]
    stored = [t for t in tasks if not t.catalogue]
    parts = []
    with warnings.catch_warnings():
        # max_retries / max_task_retries have no named parameter yet: without them a file
        # that kills its worker would be retried forever
        warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated")
        if new:
            ds = rd.from_items([{"asset_id": t.asset_id, "row": pickle.dumps(t)} for t in new],
                               override_num_blocks=min(len(new), MAX_INPUT_BLOCKS))
            parts.append(ds.map_batches(
                catalogue_batch, batch_format="numpy", num_cpus=1, max_retries=1,
                batch_size=1 if one_per_block else CATALOGUE_BATCH_ROWS))
        if stored:
            rows = [{"asset_id": t.asset_id, "row": pickle.dumps(
                _Row(t.extractors, TaskResult(t.asset_id, None, [], t.work)))} for t in stored]
            parts.append(rd.from_items(rows, override_num_blocks=min(len(rows),
                                                                     MAX_INPUT_BLOCKS)))
        ds = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:])
        for name, p in placements(names, options, cpus, gpus).items():
            ds = ds.map_batches(
                ExtractorStage, fn_constructor_kwargs={"name": name, "options": options,
                                                       "batch_size": batch_size},
                batch_size=1 if one_per_block else max(1, batch_size), batch_format="numpy",
                compute=rd.ActorPoolStrategy(min_size=p.pool[0], max_size=p.pool[1]),
                num_cpus=p.num_cpus, num_gpus=p.num_gpus or None, max_task_retries=0,
            )  # fmt: skip
    return ds


def _results(ds) -> Iterator[list[TaskResult]]:
    """The output a block at a time (a block: the assets of one batch of the last stage)."""
    it = iter(ds.iter_batches(batch_size=None, batch_format="numpy"))
    try:
        for batch in it:
            yield [pickle.loads(row).result for row in batch["row"]]
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()


def run(tasks: list[Task], address: str, batch_size: int = DEFAULT_BATCH_SIZE
        ) -> Iterator[TaskResult]:
    """Run ``tasks`` on Ray and yield one ``TaskResult`` per asset, as they finish."""
    for results in run_batches(tasks, address, batch_size):
        yield from results


def run_batches(tasks: list[Task], address: str, batch_size: int = DEFAULT_BATCH_SIZE
                ) -> Iterator[list[TaskResult]]:
    """``run``, a block of results at a time (the driver writes each in one transaction)."""
    if not tasks:
        return
    started = connect(address)
    import ray

    from indexer.runners import crashed

    try:
        _quiet_ray_data(len(tasks))
        res = ray.cluster_resources()
        cpus, gpus = float(res.get("CPU", 1.0)), float(res.get("GPU", 0.0))
        todo = list(tasks)
        for attempt in range(ATTEMPTS):
            seen: set[int] = set()
            for results in _results(build(todo, batch_size, cpus, gpus,
                                          one_per_block=attempt > 0)):
                seen.update(r.asset_id for r in results)
                yield results
            todo = [t for t in todo if t.asset_id not in seen]
            if not todo:
                return
            log.warning("%d asset(s) lost with a Ray worker; %s", len(todo),
                        "running them again one by one" if attempt < ATTEMPTS - 1 else
                        "recorded as crashed")
        yield [crashed(t) for t in todo]
    finally:
        if started:
            ray.shutdown()


__all__ = ["ExtractorStage", "build", "catalogue_batch", "catalogue_one", "connect", "device_options",
           "placements", "run", "run_batches"]
