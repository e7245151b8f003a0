"""The one small interface every extractor implements.

``run`` is pure computation over work items (it may read the media file and the
stored keyframe JPEGs, never the database) so it can execute in any worker
process; its results are picklable. Storing them is the writer's job
(``indexer.writer`` with ``indexer.rows``), in the same transaction that marks
(asset, name, version) done: a crash never leaves half a result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from indexer.work import AssetWork


class Extractor(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    kinds: ClassVar[frozenset[str]] = frozenset({"video", "image", "audio"})

    def __init__(self, device: str = "cpu", **options: Any) -> None:
        self.device = device
        self.options = options
        self._loaded = False

    def load(self) -> None:
        """Load models (lazily, once per process). Override ``_load``."""
        if not self._loaded:
            self._load()
            self._loaded = True

    def _load(self) -> None:
        pass

    def applies_to(self, work: AssetWork) -> bool:
        return work.kind in self.kinds

    @abstractmethod
    def run(self, batch: list[AssetWork]) -> list[Any]:
        """One picklable result per work item, in order."""

    @property
    def stage(self) -> str:
        return self.name
