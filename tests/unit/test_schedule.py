"""The scheduler: catalogues first (small files several to a job), then each model stage
over batches gathered across assets; results before the jobs they make possible."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from indexer.schedule import CATALOGUE_BATCH_FILES, Scheduler, cost
from indexer.work import AssetWork, KeyframeRef, SegmentRef, StageOutcome, Task, TaskResult


def _work(asset_id: int, keyframes: int, tmp: Path) -> AssetWork:
    seg = SegmentRef(index=0, kind="shot", time_base=Fraction(1, 25), start_ts=0, end_ts=25)
    seg.keyframes = [KeyframeRef(0, i, i / 25, i, tmp / f"{asset_id}_{i}.jpg")
                     for i in range(keyframes)]
    return AssetWork(asset_id=asset_id, path=tmp / f"{asset_id}.mp4", kind="video",
                     data_dir=tmp, segments=[seg])


def _task(asset_id: int, tmp: Path, *, catalogue: bool, work=None, size: int = 1000,
          extractors=("concepts", "ocr")) -> Task:
    path = tmp / f"{asset_id}.jpg"
    path.write_bytes(b"x" * size)
    return Task(asset_id, path, "h", tmp, catalogue, work, list(extractors), {})


def _catalogued(job, tmp: Path, keyframes: int = 1) -> list[TaskResult]:
    return [TaskResult(t.asset_id, StageOutcome("catalogue", "1", True, None), [],
                       _work(t.asset_id, keyframes, tmp)) for t in job.tasks]


def _drain(sched: Scheduler, tmp: Path, keyframes: int = 1) -> list:
    jobs, complete = [], []
    while (job := sched.next_job()) is not None:
        jobs.append(job)
        results = (_catalogued(job, tmp, keyframes) if job.stage == "catalogue" else
                   [TaskResult(t.asset_id, None, [], t.work) for t in job.tasks])
        results = [sched.mark(r) for r in results]
        complete += [r.asset_id for r in results if r.complete]
        sched.finished(job, results)
    assert sched.done
    # every asset's last result, and only that one, says it completes the asset
    assert sorted(complete) == sorted(t.asset_id for t in sched.tasks)
    return jobs


def test_catalogue_first_then_model_stages_batched_across_assets(tmp_path: Path) -> None:
    tasks = [_task(i, tmp_path, catalogue=True) for i in range(36)]
    jobs = _drain(Scheduler(tasks, batch_size=8), tmp_path)
    cat_jobs = [j for j in jobs if j.stage == "catalogue"]
    assert [len(j.tasks) for j in cat_jobs] == [CATALOGUE_BATCH_FILES] * 4 + [4]
    assert all(not t.extractors for j in cat_jobs for t in j.tasks)  # catalogue only
    model_jobs = [j for j in jobs if j.stage != "catalogue"]
    for name in ("concepts", "ocr"):
        sizes = [len(j.tasks) for j in model_jobs if j.stage == name]
        assert sum(sizes) == 36 and max(sizes) == 8  # batches of 8 one-keyframe stills
    assert all(t.work is not None and t.extractors == [j.stage] and not t.catalogue
               for j in model_jobs for t in j.tasks)


def test_every_asset_gets_every_extractor_once(tmp_path: Path) -> None:
    tasks = [_task(i, tmp_path, catalogue=i % 2 == 0,
                   work=None if i % 2 == 0 else _work(i, 3, tmp_path)) for i in range(9)]
    jobs = _drain(Scheduler(tasks, batch_size=5), tmp_path, keyframes=3)
    seen = sorted((t.asset_id, j.stage) for j in jobs if j.stage != "catalogue" for t in j.tasks)
    assert seen == sorted((i, n) for i in range(9) for n in ("concepts", "ocr"))
    for j in jobs:  # a batch never holds more keyframes than asked, unless one item does
        if j.stage != "catalogue" and len(j.tasks) > 1:
            assert sum(cost(t.work) for t in j.tasks) <= 5


def test_large_files_and_sequences_are_catalogued_alone(tmp_path: Path) -> None:
    big = _task(1, tmp_path, catalogue=True, size=9 << 20)
    small = [_task(i, tmp_path, catalogue=True) for i in range(2, 10)]
    seq = Task(10, tmp_path / "plate.%04d.dpx", "h", tmp_path, True, None, ["concepts"], {})
    sched = Scheduler([big, *small, seq])  # 10 catalogues: at most 3 a job
    assert sched.next_job().asset_ids == [1]
    assert [sched.next_job().asset_ids for _ in range(3)] == [[2, 3, 4], [5, 6, 7], [8, 9]]
    assert sched.next_job().asset_ids == [10]


def test_a_few_files_are_spread_over_the_workers(tmp_path: Path) -> None:
    """8 small clips and 2 workers: one a job, not one job for one worker."""
    tasks = [_task(i, tmp_path, catalogue=True, extractors=("ocr",)) for i in range(8)]
    jobs = _drain(Scheduler(tasks, batch_size=64, workers=2), tmp_path)
    assert all(len(j.tasks) == 1 for j in jobs)


def test_a_long_videos_extractors_are_separate_jobs(tmp_path: Path) -> None:
    """One long file: its model stages go to different workers at once."""
    sched = Scheduler([_task(1, tmp_path, catalogue=True,
                             extractors=("concepts", "ocr", "faces"))], batch_size=16)
    job = sched.next_job()
    assert sched.next_job() is None and not sched.done  # waits for the catalogue
    sched.finished(job, _catalogued(job, tmp_path, keyframes=200))
    stages = [sched.next_job().stage for _ in range(3)]
    assert sorted(stages) == ["concepts", "faces", "ocr"]
    assert not sched.done  # three in flight


def test_failed_catalogue_queues_nothing(tmp_path: Path) -> None:
    sched = Scheduler([_task(1, tmp_path, catalogue=True)])
    job = sched.next_job()
    sched.finished(job, [TaskResult(1, StageOutcome("catalogue", "1", False, error="bad"),
                                    [], None)])
    assert sched.next_job() is None and sched.done


def test_retry_splits_a_batch(tmp_path: Path) -> None:
    sched = Scheduler([_task(i, tmp_path, catalogue=True) for i in range(12)])
    job = sched.next_job()
    again = sched.retry(job)
    assert [j.asset_ids for j in again] == [[0], [1], [2]]
    assert not sched._in_flight  # nothing handed out by the scheduler itself is in flight
