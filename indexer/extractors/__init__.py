"""Extractor registry: name -> "module:Class", imported lazily (models are heavy).

Order matters: an extractor runs after the ones listed before it.
"""

from __future__ import annotations

import importlib
from typing import Any

from indexer.extractors.base import Extractor

REGISTRY: dict[str, str] = {
    "objects": "indexer.extractors.objects:ObjectsExtractor",
    "ocr": "indexer.extractors.ocr:OcrExtractor",
    "concepts": "indexer.extractors.concepts:ConceptsExtractor",
    "clip": "indexer.extractors.clip:ClipExtractor",
    "faces": "indexer.extractors.faces:FacesExtractor",
    "audio": "indexer.extractors.sound:AudioFeatures",
    "sound_events": "indexer.extractors.sound_events:SoundEventsExtractor",
    "transcript": "indexer.extractors.transcribe:TranscriptExtractor",
    "interest": "indexer.extractors.interest:InterestExtractor",
    "proxy": "indexer.extractors.proxy:ProxyExtractor",
}

# Extractors an ingest runs unless told otherwise (names present in REGISTRY).
# "concepts" stands for the database's visual embedder (concepts or an open_clip model,
# whichever the catalogue was indexed with; see assetdb.spaces.visual_extractor).
DEFAULT_EXTRACTORS: list[str] = ["concepts", "objects", "ocr", "faces", "audio", "sound_events",
                                  "transcript", "interest", "proxy"]

_cache: dict[tuple[str, str], Extractor] = {}


def available() -> list[str]:
    return list(REGISTRY)


def extractor_class(name: str) -> type[Extractor]:
    try:
        target = REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown extractor {name!r}; known: {', '.join(REGISTRY) or 'none'}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def get_extractor(name: str, **options: Any) -> Extractor:
    """One instance per (name, options) per process, so models load once."""
    key = (name, repr(sorted(options.items())))
    if key not in _cache:
        _cache[key] = extractor_class(name)(**options)
    return _cache[key]


def version_of(name: str) -> str:
    return extractor_class(name).version
