"""The "clip" extractor: one open_clip vector per keyframe (the model is
:class:`assetdb.models.clip.ClipEmbedder`; options ``model``, ``pretrained``,
``batch_size``).
"""

from __future__ import annotations

from assetdb.models.clip import MAX_BATCH, ClipEmbedder
from indexer.extractors.concepts import VisualExtractor


class ClipExtractor(VisualExtractor):
    """Options: ``model`` (open_clip name), ``pretrained`` (tag, checkpoint path or None)."""

    name = "clip"
    version = "1"

    def _load(self) -> None:
        self._embedder = ClipEmbedder.shared(
            self.options.get("model", "ViT-B-32"),
            self.options.get("pretrained"),
            device=self.device,
            batch_size=int(self.options.get("batch_size", MAX_BATCH)),
        ).load()

    def embedder(self) -> ClipEmbedder:
        self.load()
        return self._embedder

    def model_spec(self) -> str:
        return f"clip:{self.options.get('model', 'ViT-B-32')}:{self.options.get('pretrained') or 'random'}"
