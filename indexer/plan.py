"""Which work an ingest does: pure decisions over stored rows and file stats.

No database, no media, no clock: ``check_file`` says what a scanned file is relative to
its stored row, ``plan`` which stages (catalogue, extractors) to run for one asset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

STATE_PENDING = "pending"
STATE_FAILED = "failed"
DONE = "done"

# check_file answers
NEW = "new"  # no stored row: insert and catalogue
SAME = "same"  # size and mtime match the stored row
SKIP = "skip"  # same stat, stored as failed, failures not retried: nothing to do
HASH = "hash"  # stat changed: call again with the content hash
TOUCHED = "touched"  # stat changed, same content: update the stat only
CHANGED = "changed"  # new content: catalogue again


@dataclass(frozen=True)
class StoredFile:
    """What ``check_file`` needs of a stored asset row."""

    state: str
    size: int | None
    mtime_ns: int | None
    content_hash: str | None


@dataclass(frozen=True)
class StageRow:
    """A stored ``stage_runs`` row."""

    version: str
    state: str


@dataclass
class Plan:
    catalogue: bool
    extractors: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.catalogue and not self.extractors


def check_file(
    stored: StoredFile | None,
    size: int,
    mtime_ns: int,
    *,
    digest: str | None = None,
    retry_failed: bool = False,
) -> str:
    """One of NEW, SAME, SKIP, HASH, TOUCHED, CHANGED (see the constants)."""
    if stored is None:
        return NEW
    if stored.size == size and stored.mtime_ns == mtime_ns:
        return SKIP if stored.state == STATE_FAILED and not retry_failed else SAME
    if digest is None:
        return HASH
    if digest == stored.content_hash and stored.state != STATE_FAILED:
        return TOUCHED
    return CHANGED


def plan(
    state: str,
    runs: Mapping[str, StageRow],
    versions: Mapping[str, str],
    *,
    catalogue_stage: str,
    catalogue_version: str,
    catalogue: bool = False,
    retry_failed: bool = False,
    applies: Callable[[str], bool] | None = None,
) -> Plan:
    """The stages to run for one asset.

    ``state`` is the asset's stored state, ``runs`` its stage rows by stage name,
    ``versions`` the wanted extractors (name -> version, in run order). ``catalogue``
    forces the catalogue stage (new or changed content). ``applies(name)`` says whether
    an extractor applies to the stored asset (known only once catalogued): one that does
    not is never planned, so it is not re-planned on every run either.
    """
    if state == STATE_PENDING:
        catalogue = True
    cat = runs.get(catalogue_stage)
    if cat is None or cat.version != catalogue_version or cat.state != DONE and retry_failed:
        catalogue = True
    if state == STATE_FAILED and not catalogue:
        return Plan(False)
    if catalogue:
        return Plan(True, list(versions))
    needed = []
    for name, version in versions.items():
        r = runs.get(name)
        if r is None or r.version != version or (r.state != DONE and retry_failed):
            needed.append(name)
    if applies is not None:
        needed = [n for n in needed if applies(n)]
    return Plan(False, needed)
