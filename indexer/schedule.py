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

from indexer.work import AssetWork, Task, TaskResult

DEFAULT_BATCH_SIZE = 64  # keyframes or segments per model job
CATALOGUE_BATCH_FILES = 8  # small files catalogued in one job
CATALOGUE_BATCH_BYTES = 8 << 20  # ... while their sizes add up to at most this


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
    _catalogue: deque[Task] = field(default_factory=deque)
    _queues: dict[str, list[Task]] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list)
    _followups: dict[int, list[str]] = field(default_factory=dict)
    _in_flight: int = 0

    def __post_init__(self) -> None:
        self.batch_size = max(1, int(self.batch_size))
        for t in self.tasks:
            self._order += [n for n in t.extractors if n not in self._order]
            if t.catalogue:
                self._catalogue.append(replace(t, extractors=[]))
                self._followups[t.asset_id] = list(t.extractors)
            else:
                self._enqueue(t, t.extractors)

    def _enqueue(self, task: Task, names: list[str]) -> None:
        for n in names:
            self._queues.setdefault(n, []).append(replace(task, catalogue=False, extractors=[n]))

    @property
    def done(self) -> bool:
        return not self._catalogue and not any(self._queues.values()) and not self._in_flight

    def _take(self, name: str) -> Job:
        q, batch, total = self._queues[name], [], 0
        while q and (not batch or total + cost(q[0].work) <= self.batch_size):
            t = q.pop(0)
            batch.append(t)
            total += cost(t.work)
        return Job(batch, name)

    def _take_catalogue(self) -> Job:
        first = self._catalogue.popleft()
        batch, total = [first], _file_size(first)
        while (total is not None and self._catalogue and len(batch) < CATALOGUE_BATCH_FILES):
            size = _file_size(self._catalogue[0])
            if size is None or total + size > CATALOGUE_BATCH_BYTES:
                break
            batch.append(self._catalogue.popleft())
            total += size
        return Job(batch, "catalogue")

    def next_job(self) -> Job | None:
        """A full model batch first, then catalogue work, then the largest partial batch
        (a worker is free and nothing better is ready)."""
        full = [n for n in self._order
                if sum(cost(t.work) for t in self._queues.get(n, ())) >= self.batch_size]
        if full:
            job = self._take(full[0])
        elif self._catalogue:
            job = self._take_catalogue()
        else:
            waiting = [n for n in self._order if self._queues.get(n)]
            if not waiting:
                return None
            job = self._take(max(waiting, key=lambda n: sum(cost(t.work)
                                                              for t in self._queues[n])))
        self._in_flight += 1
        return job

    def finished(self, job: Job, results: list[TaskResult]) -> None:
        """A job's results are back (written or about to be): queue the extractors of the
        assets it catalogued."""
        self._in_flight -= 1
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

    def resubmitted(self) -> None:
        self._in_flight += 1


__all__ = ["DEFAULT_BATCH_SIZE", "Job", "Scheduler", "cost"]
