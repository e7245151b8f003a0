"""open_clip visual embedder: any model name with a pretrained tag or a local
checkpoint, the model's own preprocessing, text queries through its text tower.

The device is decided by the caller ("cpu", "cuda", "cuda:1"); on CUDA the model
runs in fp16. ``pretrained=None`` gives a random-init model (tests use it to run
the real code path without weights).

Space names: ``clip:<model>:<pretrained tag>``, ``clip:<model>:<file name>+<sha256[:12]>``
for a local checkpoint, ``clip:<model>:random`` for random init.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assetdb.errors import ModelUnavailable
from indexer.extractors.concepts import VisualExtractor, load_rgb

log = logging.getLogger(__name__)

MAX_BATCH = 32


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def clip_space(model_name: str, pretrained: str | None) -> str:
    if pretrained is None:
        return f"clip:{model_name}:random"
    p = Path(pretrained).expanduser()
    if p.is_file():
        return f"clip:{model_name}:{p.name}+{_file_sha(p)}"
    return f"clip:{model_name}:{pretrained}"


def parse_clip_space(space: str) -> tuple[str, str | None]:
    """(model name, pretrained) from a ``clip:`` model spec or space name.

    ``clip:ViT-B-32:laion2b_s34b_b79k``, ``clip:ViT-B-32:/models/ckpt.pt`` or
    ``clip:ViT-B-32:random``. A checkpoint space (``file+sha``) cannot be turned back
    into a path; the path must be configured (``clip_checkpoint`` in the config).
    """
    parts = space.split(":", 2)
    if len(parts) != 3 or parts[0] != "clip" or not parts[1] or not parts[2]:
        raise ValueError(f"not a clip model spec: {space!r} (expected clip:<model>:<pretrained>)")
    _, name, pretrained = parts
    return name, None if pretrained == "random" else pretrained


class ClipEmbedder:
    """Images and texts -> unit vectors in one open_clip model's joint space."""

    def __init__(
        self,
        model_name: str,
        pretrained: str | None = None,
        device: str = "cpu",
        batch_size: int = MAX_BATCH,
    ):
        self.model_name = model_name
        self.pretrained = pretrained
        self.device = device
        self.batch_size = batch_size
        self.space = clip_space(model_name, pretrained)
        self._model = None
        self._preprocess = None
        self._tokenizer = None
        self.dim: int | None = None

    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            import open_clip
            import torch
        except ImportError as exc:
            raise ModelUnavailable(f"open_clip is not usable here: {exc}") from exc
        if self.model_name not in open_clip.list_models():
            raise ModelUnavailable(f"open_clip has no model named {self.model_name!r}")
        pretrained = self.pretrained
        if pretrained is not None and not Path(pretrained).expanduser().is_file():
            tags = [t for m, t in open_clip.list_pretrained() if m == self.model_name]
            if pretrained not in tags:
                raise ModelUnavailable(
                    f"{pretrained!r} is neither a checkpoint file nor a pretrained tag of "
                    f"{self.model_name} (tags: {', '.join(tags) or 'none'})"
                )
        elif pretrained is not None:
            pretrained = str(Path(pretrained).expanduser())
        torch.manual_seed(0)  # random init (tests) is then deterministic
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                self.model_name, pretrained=pretrained, device=self.device
            )
        except (RuntimeError, OSError) as exc:
            raise ModelUnavailable(
                f"cannot load open_clip {self.model_name} ({self.pretrained}): {exc}"
            ) from exc
        model.eval()
        if self.device.startswith("cuda"):
            model = model.half()
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = open_clip.get_tokenizer(self.model_name)
        self.dim = int(
            getattr(model, "embed_dim", 0)
            or model.text_projection.shape[-1]  # type: ignore[union-attr]
        )
        log.info("loaded open_clip %s on %s (%s)", self.model_name, self.device, self.space)

    def _dtype(self):
        import torch

        return torch.float16 if self.device.startswith("cuda") else torch.float32

    def embed_text(self, texts: list[str]) -> np.ndarray:
        import torch

        self._load()
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                tok = self._tokenizer(texts[i : i + self.batch_size]).to(self.device)
                f = self._model.encode_text(tok).float()
                out.append(torch.nn.functional.normalize(f, dim=-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim or 0))

    def embed_pil(self, images: Sequence) -> np.ndarray:
        import torch

        self._load()
        out = []
        with torch.inference_mode():
            for i in range(0, len(images), self.batch_size):
                x = torch.stack([self._preprocess(im) for im in images[i : i + self.batch_size]])
                x = x.to(self.device, dtype=self._dtype())
                f = self._model.encode_image(x).float()
                out.append(torch.nn.functional.normalize(f, dim=-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim or 0))

    def embed_rgb(self, images: Sequence[np.ndarray]) -> np.ndarray:
        from PIL import Image

        return self.embed_pil([Image.fromarray(np.asarray(a, dtype=np.uint8)) for a in images])

    def embed_images(self, paths: Sequence[Path]) -> np.ndarray:
        return self.embed_rgb([load_rgb(Path(p)) for p in paths])


class ClipExtractor(VisualExtractor):
    """Options: ``model`` (open_clip name), ``pretrained`` (tag, checkpoint path or None)."""

    name = "clip"
    version = "1"

    def _load(self) -> None:
        self._embedder = ClipEmbedder(
            self.options.get("model", "ViT-B-32"),
            self.options.get("pretrained"),
            device=self.device,
            batch_size=int(self.options.get("batch_size", MAX_BATCH)),
        )
        self._embedder._load()

    def embedder(self) -> ClipEmbedder:
        self.load()
        return self._embedder

    def model_spec(self) -> str:
        return f"clip:{self.options.get('model', 'ViT-B-32')}:{self.options.get('pretrained') or 'random'}"
