"""The "concepts" extractor, the offline default visual embedder: one ConSE
vector per keyframe (the model is :class:`assetdb.models.concepts.ConceptEmbedder`),
and the run/write shared by the visual embedders (concepts, clip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assetdb.models.concepts import ConceptEmbedder
from indexer.extractors.base import Extractor
from indexer.work import AssetWork


@dataclass
class KeyframeVectors:
    """The picklable result of a visual extractor for one asset."""

    rows: list[tuple[int, float, np.ndarray]]  # (segment_index, t_s, vector)
    space: str


class VisualExtractor(Extractor):
    """Shared run/write of the visual embedders: one vector per keyframe."""

    kinds = frozenset({"video", "image"})
    MAX_BATCH = 32

    def embedder(self):
        raise NotImplementedError

    def run(self, batch: list[AssetWork]) -> list[KeyframeVectors]:
        # the keyframes of every asset in the batch go through the model together,
        # MAX_BATCH at a time, then are dealt back to their assets
        emb = self.embedder()
        refs = [k for work in batch for k in work.keyframes]
        vecs = [emb.embed_images([k.path for k in refs[i : i + self.MAX_BATCH]])
                for i in range(0, len(refs), self.MAX_BATCH)]
        mat = np.concatenate(vecs) if vecs else np.zeros((0, emb.dim), np.float32)
        results, j = [], 0
        for work in batch:
            n = len(work.keyframes)
            results.append(KeyframeVectors(
                rows=[(k.segment_index, k.time_s, mat[j + i])
                      for i, k in enumerate(work.keyframes)],
                space=emb.space,
            ))  # fmt: skip
            j += n
        return results

    def model_spec(self) -> str:
        """The ``--model`` string that re-creates this extractor (recorded in meta)."""
        raise NotImplementedError


class ConceptsExtractor(VisualExtractor):
    name = "concepts"
    # bump when ConceptParams' defaults change the embedding (e.g. WordNet hypernyms):
    # every stored image vector is then re-embedded
    version = "1"

    def _load(self) -> None:
        self._embedder = ConceptEmbedder.shared(
            device=self.device,
            cache_dir=self.options.get("cache_dir"),
            # off by default: the SSD detector runs at ~1/11 of the classifier's speed
            # (4.1 vs 46 img/s here) for +0.02 mAP; enable with the option use_objects
            use_objects=bool(self.options.get("use_objects", False)),
        ).load()

    def embedder(self) -> ConceptEmbedder:
        self.load()
        return self._embedder

    def model_spec(self) -> str:
        return "concepts"
