"""Which embedding model a database's visual vectors come from.

One database holds one visual space (all keyframe vectors comparable with each
other and with query embeddings). The first visual vectors written record it in
the ``meta`` table (key ``visual_model``: the space name and the model spec it can
be re-created from); writing vectors of another space is refused with a message
saying how to switch (``assetdb index rebuild --model ...``), never mixed.

Model specs (``--model``): ``concepts`` | ``clip:<name>:<pretrained tag>`` |
``clip:<name>:<checkpoint path>`` | ``clip:<name>:random`` (random init, tests).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assetdb.errors import ConfigError, IndexMismatch, ModelUnavailable
from assetdb.schema import Meta

log = logging.getLogger(__name__)

META_KEY = "visual_model"
CONCEPTS_SPACE = "concepts:effnet-lite3+minilm-l6@1"
TRANSCRIPT_SPACE = "transcript:all-MiniLM-L6-v2"
VISUAL_PREFIXES = ("concepts:", "clip:")


def is_visual(space: str) -> bool:
    return space.startswith(VISUAL_PREFIXES)


@dataclass(frozen=True)
class ModelSpec:
    """A visual model: which extractor, with which options, makes which space."""

    spec: str
    extractor: str  # "concepts" | "clip"
    options: dict[str, Any]

    @property
    def space(self) -> str:
        if self.extractor == "concepts":
            return CONCEPTS_SPACE
        from assetdb.models.clip import clip_space

        return clip_space(self.options["model"], self.options.get("pretrained"))


def parse_model(spec: str) -> ModelSpec:
    spec = spec.strip()
    if spec == "concepts" or spec == CONCEPTS_SPACE:
        return ModelSpec("concepts", "concepts", {})
    if spec.startswith("clip:"):
        parts = spec.split(":", 2)
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise ConfigError(
                f"bad model {spec!r}: use clip:<model>:<pretrained tag or checkpoint path>"
            )
        name, pre = parts[1], parts[2]
        pretrained: str | None = None if pre == "random" else pre
        if pretrained is not None and ("/" in pretrained or pretrained.endswith((".pt", ".bin",
                                                                               ".safetensors"))):
            p = Path(pretrained).expanduser()
            if not p.is_file():
                raise ModelUnavailable(f"checkpoint {p} does not exist")
            pretrained = str(p.resolve())
        return ModelSpec(spec, "clip", {"model": name, "pretrained": pretrained})
    raise ConfigError(
        f"unknown model {spec!r}: use concepts, clip:<model>:<pretrained tag> "
        "or clip:<model>:<checkpoint path>"
    )


def recorded_model(session: Session) -> dict[str, Any] | None:
    """``{"space": ..., "spec": ...}`` of this database's visual vectors, or None."""
    row = session.execute(select(Meta.value).where(Meta.key == META_KEY)).scalar_one_or_none()
    return row if isinstance(row, dict) else None


def record_model(session: Session, space: str, spec: str) -> None:
    meta = session.get(Meta, META_KEY)
    value = {"space": space, "spec": spec}
    if meta is None:
        session.add(Meta(key=META_KEY, value=value))
    else:
        meta.value = value
    session.flush()


def claim_space(session: Session, space: str, spec: str) -> None:
    """Record ``space`` as the database's visual space, or refuse a different one."""
    if not is_visual(space):
        return
    current = recorded_model(session)
    if current is None:
        record_model(session, space, spec)
        return
    if current.get("space") != space:
        raise IndexMismatch(
            f"this database's visual vectors are {current.get('space')!r}; refusing to mix in "
            f"{space!r} (switch with `assetdb index rebuild --model {spec}`)"
        )


def visual_extractor(session: Session) -> tuple[str, dict[str, Any]]:
    """(extractor name, options) that produce this database's visual space;
    ``concepts`` when nothing is recorded yet. Ingest should run this one."""
    current = recorded_model(session)
    if current is None:
        return "concepts", {}
    m = parse_model(current["spec"])
    return m.extractor, m.options


def text_embedder(session: Session, device: str = "cpu", settings: Any = None):
    """The query embedder of this database's visual space (None if it has none):
    an object with ``embed_text(list[str])``, ``embed_images(paths)``, ``space``."""
    current = recorded_model(session)
    if current is None:
        return None
    return embedder_for(parse_model(current["spec"]), device=device, settings=settings)


def embedder_for(model: ModelSpec, device: str = "cpu", settings: Any = None):
    """The process-wide embedder of a visual model (loaded on first use)."""
    if model.extractor == "concepts":
        from assetdb.models.concepts import ConceptEmbedder

        return ConceptEmbedder.shared(
            device=device, cache_dir=getattr(settings, "model_dir", None)
        )
    from assetdb.models.clip import ClipEmbedder

    return ClipEmbedder.shared(
        model.options["model"], model.options.get("pretrained"), device=device
    )


def sentence_embedder(device: str | None = None):
    """all-MiniLM-L6-v2 for the transcript space (``embed_text``, ``encode``), shared
    by the whole process. ``device`` is accepted and ignored: the encoder is numpy."""
    from assetdb.models.text import SentenceEncoder

    return SentenceEncoder.shared()
