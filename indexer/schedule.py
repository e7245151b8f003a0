"""Which job a free worker takes next: the catalogue of a few files, or one model stage
over a batch gathered across assets. Pure bookkeeping: no processes, no database.

An asset's task (catalogue, then extractors) is split in two: its catalogue runs first
(small files several to a job), and when that result is back, each extractor it needs
joins that extractor's queue. A queue goes out as one job once it holds ``batch_size``
keyframes/segments, or earlier when a worker would otherwise sit idle. So a model sees
batches across files, and a long video's extractors run on different workers at once.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field, replace

from indexer.work import AssetWork, ShotStretch, Task, TaskResult, extractor_order

DEFAULT_BATCH_SIZE = 64  # keyframes or segments per model job
CATALOGUE_BATCH_FILES = 8  # small files catalogued in one job
CATALOGUE_BATCH_BYTES = 8 << 20  # ... while their sizes add up to at most this
JOBS_PER_WORKER = 4
# A video of at least two stretches has its shot analysis pass (the one that decodes
# every frame) split into stretches of STRETCH_S analysed at once on different workers,
# then joined at exact frame boundaries for its catalogue. Only files of at least
# STRETCH_MIN_BYTES are probed for their duration first.
STRETCH_S = 300.0
STRETCH_MIN_BYTES = 32 << 20
SHOTS = "shots"


@dataclass
class Job:
    """Work for one worker call: ``indexer.stages.run_batch(job.tasks)``."""

    tasks: list[Task]
    stage: str  # "catalogue" or an extractor name

    @property
    def asset_ids(self) -> list[int]:
        return [t.asset_id for t in self.tasks]


def cost(work: AssetWork | None) -> int:
    """How much a work item gives a model stage: its keyframes or segments."""
    if work is None:
        return 1
    return max(1, len(work.keyframes), len(work.segments))


def stretches(task: Task) -> list[ShotStretch]:
    """The stretches of a long video's shot analysis; [] for anything else."""
    size = _file_size(task)
    if size is None or size < STRETCH_MIN_BYTES:
        return []
    from assetdb.media.probe import probe

    try:
        info = probe(task.path)
    except Exception:  # noqa: BLE001 - its catalogue will record why
        return []
    if info.kind != "video" or not info.duration_s or info.duration_s < 2 * STRETCH_S:
        return []
    n = int(info.duration_s // STRETCH_S)
    return [ShotStretch(i * STRETCH_S, None if i == n - 1 else (i + 1) * STRETCH_S,
                        info.frame_rate, info.video_stream) for i in range(n)]


def _file_size(task: Task) -> int | None:
    try:
        return os.path.getsize(task.path)
    except OSError:  # an image sequence's pattern, or gone: never batched
        return None


@dataclass
class Scheduler:
    """Hands out jobs for a list of tasks and takes their results back.

    ``next_job()`` gives the next job (None when nothing is ready now); ``finished(job,
    results)`` takes a job's results and queues the extractors of newly catalogued assets;
    ``done`` is true once every job has been handed out and no follow-up can come."""

    tasks: list[Task]
    batch_size: int = DEFAULT_BATCH_SIZE
    # the workers the jobs go to: a job never takes so much of the work that the others
    # would sit idle (each worker gets at least JOBS_PER_WORKER jobs of a stage)
    workers: int = 1
    _catalogue: deque[Task] = field(default_factory=deque)
    _queues: dict[str, deque[Task]] = field(default_factory=dict)
    _queued: dict[str, int] = field(default_factory=dict)  # cost waiting in each queue
    _order: list[str] = field(default_factory=list)
    _followups: dict[int, list[str]] = field(default_factory=dict)
    _parts: dict[int, int] = field(default_factory=dict)  # results still to come per asset
    _held: dict[int, Task] = field(default_factory=dict)  # catalogues waiting for stretches
    _chunks: dict[int, list] = field(default_factory=dict)
    _starts: dict[int, list[float]] = field(default_factory=dict)
    _in_flight: int = 0
    _caps: dict[str, int] = field(default_factory=dict)  # most tasks in one job, per stage

    def __post_init__(self) -> None:
        self.batch_size = max(1, int(self.batch_size))
        share = max(1, int(self.workers)) * JOBS_PER_WORKER
        counts: dict[str, int] = {"catalogue": sum(t.catalogue for t in self.tasks)}
        for t in self.tasks:
            for n in t.extractors:
                counts[n] = counts.get(n, 0) + 1
        self._caps = {n: max(1, -(-c // share)) for n, c in counts.items()}
        self._order = extractor_order(self.tasks)
        for t in self.tasks:
            self._parts[t.asset_id] = int(t.catalogue) + len(t.extractors)
            if t.catalogue:
                self._followups[t.asset_id] = list(t.extractors)
                parts = stretches(t)
                if parts:
                    self._held[t.asset_id] = replace(t, extractors=[])
                    self._chunks[t.asset_id] = [None] * len(parts)
                    self._starts[t.asset_id] = [p.start_s for p in parts]
                    self._catalogue.extendleft(
                        replace(t, extractors=[], shot_stretch=p) for p in reversed(parts))
                else:
                    self._catalogue.append(replace(t, extractors=[]))
            else:
                self._enqueue(t, t.extractors)

    def _enqueue(self, task: Task, names: list[str]) -> None:
        for n in names:
            self._queues.setdefault(n, deque()).append(
                replace(task, catalogue=False, extractors=[n]))
            self._queued[n] = self._queued.get(n, 0) + cost(task.work)

    @property
    def done(self) -> bool:
        return not self._catalogue and not any(self._queues.values()) and not self._in_flight

    def _take(self, name: str) -> Job:
        q, batch, total = self._queues[name], [], 0
        cap = self._caps.get(name, 1)
        while q and (not batch or (total + cost(q[0].work) <= self.batch_size
                                   and len(batch) < cap)):
            t = q.popleft()
            batch.append(t)
            total += cost(t.work)
        self._queued[name] -= total
        return Job(batch, name)

    def _take_catalogue(self) -> Job:
        first = self._catalogue.popleft()
        if first.shot_stretch is not None:
            return Job([first], SHOTS)
        batch, total = [first], _file_size(first)
        cap = min(CATALOGUE_BATCH_FILES, self._caps.get("catalogue", 1))
        while (total is not None and self._catalogue and len(batch) < cap
               and self._catalogue[0].shot_stretch is None):
            size = _file_size(self._catalogue[0])
            if size is None or total + size > CATALOGUE_BATCH_BYTES:
                break
            batch.append(self._catalogue.popleft())
            total += size
        return Job(batch, "catalogue")

    def next_job(self) -> Job | None:
        """A full model batch first, then catalogue work, then the largest partial batch
        (a worker is free and nothing better is ready)."""
        full = [n for n in self._order if self._queued.get(n, 0) >= self.batch_size]
        if full:
            job = self._take(full[0])
        elif self._catalogue:
            job = self._take_catalogue()
        else:
            waiting = [n for n in self._order if self._queues.get(n)]
            if not waiting:
                return None
            job = self._take(max(waiting, key=lambda n: self._queued[n]))
        self._in_flight += 1
        return job

    def _stretch_done(self, job: Job, results: list[TaskResult]) -> None:
        """A stretch of a long video analysed: once all are, its catalogue joins them
        (or, when one failed, makes its own pass), ahead of other catalogue work."""
        (t,), (r,) = job.tasks, results
        slots = self._chunks.get(t.asset_id)
        if slots is None:
            return
        assert t.shot_stretch is not None
        i = self._starts[t.asset_id].index(t.shot_stretch.start_s)
        slots[i] = r.catalogue.result if r.catalogue is not None and r.catalogue.ok else False
        if any(x is None for x in slots):
            return
        del self._chunks[t.asset_id]
        held = self._held.pop(t.asset_id)
        chunks = None if any(x is False for x in slots) else list(slots)
        self._catalogue.appendleft(replace(held, shot_chunks=chunks))

    def mark(self, result: TaskResult) -> TaskResult:
        """Sets ``result.complete``: whether it is the last result of its asset."""
        left = self._parts.get(result.asset_id, 1) - 1
        failed = result.catalogue is not None and not result.catalogue.ok
        result.complete = left <= 0 or failed
        return result

    def finished(self, job: Job, results: list[TaskResult]) -> None:
        """A job's results are back (written or about to be): queue the extractors of the
        assets it catalogued."""
        self._in_flight -= 1
        if job.stage == SHOTS:
            self._stretch_done(job, results)
            return
        for r in results:
            self._parts[r.asset_id] = 0 if r.complete else self._parts.get(r.asset_id, 1) - 1
        if job.stage != "catalogue":
            return
        by_id = {t.asset_id: t for t in job.tasks}
        for r in results:
            names = self._followups.pop(r.asset_id, [])
            if r.work is not None and r.catalogue is not None and r.catalogue.ok and names:
                self._enqueue(replace(by_id[r.asset_id], work=r.work), names)

    def retry(self, job: Job) -> list[Job]:
        """A job whose worker died: each of its tasks again on its own."""
        self._in_flight -= 1
        return [Job([t], job.stage) for t in job.tasks]

    def lost(self, job: Job) -> None:
        """A stretch job lost twice: its video's catalogue makes its own pass."""
        (t,) = job.tasks
        self.finished(job, [TaskResult(t.asset_id, None, [], None)])

    def resubmitted(self) -> None:
        self._in_flight += 1


__all__ = ["DEFAULT_BATCH_SIZE", "Job", "Scheduler", "cost"]
