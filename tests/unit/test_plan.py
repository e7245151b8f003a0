"""The pure planner: which (asset, stage, version) an ingest runs, from stored rows and
file stats alone (no media, no database)."""

from __future__ import annotations

from indexer import plan as pl

CAT, CAT_V = "catalogue", "1.s1.k1"
WANTED = {"objects": "2", "faces": "1", "interest": "1"}


def rows(**stages: tuple[str, str]) -> dict[str, pl.StageRow]:
    return {name: pl.StageRow(v, state) for name, (v, state) in stages.items()}


def plan(state: str, runs: dict, **kw) -> pl.Plan:
    return pl.plan(state, runs, WANTED, catalogue_stage=CAT, catalogue_version=CAT_V, **kw)


def all_done() -> dict[str, pl.StageRow]:
    return rows(catalogue=(CAT_V, "done"), objects=("2", "done"), faces=("1", "done"),
                interest=("1", "done"))


def test_check_file() -> None:
    stored = pl.StoredFile("indexed", 100, 5, "abc")
    assert pl.check_file(None, 100, 5) == pl.NEW
    assert pl.check_file(stored, 100, 5) == pl.SAME
    assert pl.check_file(stored, 100, 6) == pl.HASH
    assert pl.check_file(stored, 100, 6, digest="abc") == pl.TOUCHED
    assert pl.check_file(stored, 101, 6, digest="def") == pl.CHANGED
    failed = pl.StoredFile("failed", 100, 5, "abc")
    assert pl.check_file(failed, 100, 5) == pl.SKIP
    assert pl.check_file(failed, 100, 5, retry_failed=True) == pl.SAME
    # a failed file with new stat but the same bytes is catalogued again, not just touched
    assert pl.check_file(failed, 100, 6, digest="abc") == pl.CHANGED


def test_new_or_changed_content_runs_everything() -> None:
    p = plan("pending", {})
    assert p.catalogue and p.extractors == list(WANTED)
    p = plan("indexed", all_done(), catalogue=True)
    assert p.catalogue and p.extractors == list(WANTED)


def test_nothing_to_do_when_every_version_is_done() -> None:
    assert plan("indexed", all_done()).empty


def test_a_new_extractor_version_runs_only_that_stage() -> None:
    runs = all_done()
    runs["objects"] = pl.StageRow("1", "done")
    assert plan("indexed", runs) == pl.Plan(False, ["objects"])


def test_a_new_catalogue_version_recatalogues() -> None:
    runs = all_done()
    runs[CAT] = pl.StageRow("0.old", "done")
    assert plan("indexed", runs).catalogue


def test_failed_stages_rerun_only_when_asked() -> None:
    runs = all_done()
    runs["faces"] = pl.StageRow("1", "failed")
    assert plan("indexed", runs).empty
    assert plan("indexed", runs, retry_failed=True) == pl.Plan(False, ["faces"])


def test_failed_catalogue_is_retried_only_when_asked() -> None:
    runs = rows(catalogue=(CAT_V, "failed"))
    assert plan("failed", runs).empty
    # --retry-failed retries files, not only stages (it used to skip failed files)
    p = plan("failed", runs, retry_failed=True)
    assert p.catalogue and p.extractors == list(WANTED)


def test_stages_that_do_not_apply_are_not_planned() -> None:
    runs = rows(catalogue=(CAT_V, "done"))
    p = plan("indexed", runs, applies=lambda name: name != "interest")
    assert p == pl.Plan(False, ["objects", "faces"])
    # not consulted when the asset is catalogued again (its kind may change)
    p = plan("pending", runs, applies=lambda name: False)
    assert p.extractors == list(WANTED)
