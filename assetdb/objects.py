"""Objects and on-screen text: the COCO label vocabulary (synonyms, categories),
the ``--object`` search filter, the text written for free-text search, and the
per-shot summaries ``assets show`` prints.

Matching policy (the same for ``--object`` and for free-text search):

- a label matches itself, its plural and its synonyms: ``car`` = ``cars`` =
  ``automobile``; ``person`` = ``people`` = ``human``;
  ``airplane`` = ``plane`` = ``aircraft``; ``tv`` = ``television`` = ``monitor``;
- a label does NOT match its siblings: ``car`` does not match ``truck`` or
  ``bus``. The detector tells them apart well enough that a user asking for cars
  should not get buses, and the detector's own confusions (a pickup labelled
  ``truck``) are not widened on purpose;
- a category word matches every label under it: ``vehicle`` = car, truck, bus,
  motorcycle, bicycle, train, airplane, boat; ``animal``, ``food``,
  ``furniture``, ``electronics``, ``appliance``, ``kitchenware``, ``sports gear``,
  ``accessory`` likewise (COCO's supercategories).

- for ``--object`` only, a narrower word stands for the label containing it:
  ``--object woman`` keeps the shots with a person (a filter is a necessary
  condition; the detector cannot tell a woman from a man).

The free-text row written per shot (source ``objects``) holds each detected label
with its synonyms and its category word, i.e. only words true of every instance:
a text query ``vehicle`` finds a shot with a truck, ``car`` does not, and
``woman`` does not find every shot with a person.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from assetdb.errors import QueryError

# COCO-90 numbering used by the TF object-detection SSD models and by torchvision's
# COCO_V1 weights (index = class id; None = an id unused in the 2017 release).
COCO90: tuple[str | None, ...] = (
    None, "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
    "boat", "traffic light", "fire hydrant", None, "stop sign", "parking meter", "bench",
    "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
    None, "backpack", "umbrella", None, None, "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
    "skateboard", "surfboard", "tennis racket", "bottle", None, "wine glass", "cup",
    "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli",
    "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", None, "dining table", None, None, "toilet", None, "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", None, "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip

LABELS: frozenset[str] = frozenset(x for x in COCO90 if x)

# Other words for the same thing (query word -> label). Plurals are handled apart.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "person": ("people", "human", "humans"),
    "bicycle": ("bike", "cycle"),
    "car": ("automobile",),
    "motorcycle": ("motorbike",),
    "airplane": ("plane", "aeroplane", "aircraft", "airliner", "jet"),
    "boat": ("ship",),
    "tv": ("television", "monitor", "screen", "tvmonitor"),
    "cell phone": ("phone", "mobile phone", "smartphone", "cellphone", "mobile"),
    "couch": ("sofa",),
    "dining table": ("table",),
    "potted plant": ("plant", "houseplant"),
    "hair drier": ("hair dryer", "hairdryer"),
    "sports ball": ("ball", "football"),
    "teddy bear": ("teddy",),
    "cup": ("mug",),
    "wine glass": ("glass",),
    "tie": ("necktie",),
    "handbag": ("bag", "purse"),
    "donut": ("doughnut",),
    "hot dog": ("hotdog",),
    "refrigerator": ("fridge",),
    "remote": ("remote control",),
    "skis": ("ski",),
    "cow": ("cattle",),
    "laptop": ("notebook computer",),
}  # fmt: skip

# Narrower words -> the label that contains them. For ``--object`` only: a filter is
# a necessary condition (a woman is a person, so the person shots are the candidates)
# but these are not written into the shots' text, where "woman" would then find
# every person the detector saw.
NARROWER: dict[str, tuple[str, ...]] = {
    "person": ("man", "men", "woman", "women", "pedestrian", "child", "children", "boy",
               "girl", "crowd", "kid", "kids"),
    "dog": ("puppy",),
    "cat": ("kitten",),
    "car": ("taxi", "cab"),
}  # fmt: skip

# Category words (COCO supercategories) -> labels under them.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "vehicle": ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"),
    "animal": ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
               "giraffe"),
    "accessory": ("backpack", "umbrella", "handbag", "tie", "suitcase"),
    "sports gear": ("frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
                    "baseball glove", "skateboard", "surfboard", "tennis racket"),
    "kitchenware": ("bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl"),
    "food": ("banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog",
             "pizza", "donut", "cake"),
    "furniture": ("chair", "couch", "potted plant", "bed", "dining table", "toilet"),
    "electronics": ("tv", "laptop", "mouse", "remote", "keyboard", "cell phone"),
    "appliance": ("microwave", "oven", "toaster", "sink", "refrigerator"),
}  # fmt: skip
_CATEGORY_ALIASES = {"vehicles": "vehicle", "animals": "animal", "electronic": "electronics",
                     "appliances": "appliance", "sports": "sports gear", "kitchen": "kitchenware"}


def _build_vocabulary() -> dict[str, frozenset[str]]:
    vocab: dict[str, set[str]] = defaultdict(set)
    for label in LABELS:
        vocab[label].add(label)
    for table in (SYNONYMS, NARROWER):
        for label, words in table.items():
            for w in words:
                vocab[w].add(label)
    for cat, labels in CATEGORIES.items():
        vocab[cat].update(labels)
    for alias, cat in _CATEGORY_ALIASES.items():
        vocab[alias].update(CATEGORIES[cat])
    return {k: frozenset(v) for k, v in vocab.items()}


VOCABULARY: dict[str, frozenset[str]] = _build_vocabulary()


def _singular(word: str) -> list[str]:
    out = []
    if word.endswith("ies") and len(word) > 4:
        out.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        out.append(word[:-2])
    if word.endswith("s") and len(word) > 2:
        out.append(word[:-1])
    return out


def expand_label(query: str) -> frozenset[str]:
    """The COCO labels a query word stands for. Raises QueryError (with close valid
    words) when it stands for none."""
    q = " ".join(re.sub(r"[_\-]+", " ", query).lower().split())
    if not q:
        raise QueryError("empty object label")
    for cand in (q, *_singular(q)):
        if cand in VOCABULARY:
            return VOCABULARY[cand]
    close = difflib.get_close_matches(q, sorted(VOCABULARY), n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise QueryError(
        f"unknown object label {query!r}{hint} (objects are the 80 COCO classes, their "
        "synonyms and categories such as 'vehicle', 'animal')"
    )


def label_words(label: str) -> list[str]:
    """What the free-text row of a shot says for one detected label: the label, its
    synonyms and its category word(s)."""
    words = [label, *SYNONYMS.get(label, ())]
    words += [cat for cat, labels in CATEGORIES.items() if label in labels]
    return words


def objects_text(labels: list[str]) -> str:
    seen: list[str] = []
    for label in labels:
        for w in label_words(label):
            if w not in seen:
                seen.append(w)
    return " ".join(seen)


def _label_groups(labels: list[str]) -> list[frozenset[str]]:
    groups = [expand_label(x) for x in labels if x and x.strip()]
    if not groups:
        raise QueryError("no object label given")
    return groups


def segment_object_scores(session: Session, labels: list[str]) -> dict[int, float]:
    """Segments that contain every requested object (each label with its synonyms or
    category), with a score: the smallest over the labels of the best detection score.
    Repeated labels are ANDed (``--object dog --object person``: both in the shot)."""
    from assetdb.schema import SegmentObject

    result: dict[int, float] | None = None
    for group in _label_groups(labels):
        rows = session.execute(
            select(SegmentObject.segment_id, SegmentObject.max_score).where(
                SegmentObject.label.in_(sorted(group))
            )
        ).all()
        best: dict[int, float] = {}
        for sid, score in rows:
            best[sid] = max(best.get(sid, 0.0), float(score))
        if result is None:
            result = best
        else:
            result = {s: min(result[s], v) for s, v in best.items() if s in result}
        if not result:
            return {}
    return result or {}


def segment_ids_for_objects(session: Session, labels: list[str]) -> set[int]:
    """The search filter: ids of the segments that contain every requested object."""
    return set(segment_object_scores(session, labels))


@dataclass
class ShotObject:
    label: str
    count: int  # most instances in one analysed frame
    frames: int
    max_score: float


@dataclass
class ShotText:
    text: str
    t_s: float
    confidence: float


@dataclass
class ShotVisual:
    segment_id: int
    segment_index: int
    start_s: float
    end_s: float
    objects: list[ShotObject] = field(default_factory=list)
    texts: list[ShotText] = field(default_factory=list)


def shot_visuals(session: Session, asset_id: int) -> list[ShotVisual]:
    """Per shot of an asset (shots with neither objects nor text are left out): the
    objects with their counts, best first, and the lines of text read, in time order."""
    from assetdb.schema import OcrLine, Segment, SegmentObject

    segs = {
        s.id: s for s in session.scalars(select(Segment).where(Segment.asset_id == asset_id))
    }
    out: dict[int, ShotVisual] = {}

    def shot(sid: int) -> ShotVisual:
        if sid not in out:
            s = segs[sid]
            out[sid] = ShotVisual(sid, s.index, s.start_s, s.end_s)
        return out[sid]

    for o in session.scalars(
        select(SegmentObject)
        .where(SegmentObject.asset_id == asset_id)
        .order_by(SegmentObject.max_score.desc())
    ):
        shot(o.segment_id).objects.append(ShotObject(o.label, o.count, o.frames, o.max_score))
    for line in session.scalars(
        select(OcrLine).where(OcrLine.asset_id == asset_id).order_by(OcrLine.t_s, OcrLine.y1)
    ):
        shot(line.segment_id).texts.append(ShotText(line.text, line.t_s, line.confidence))
    return sorted(out.values(), key=lambda v: v.segment_index)


def asset_details(session: Session, asset_id: int) -> dict[str, list[dict]]:
    """The ``assets show`` section (a ``DETAIL_PROVIDERS`` entry): one flat row per shot
    and object label (best first) and per line of text read (in time order)."""
    objects, texts = [], []
    for v in shot_visuals(session, asset_id):
        for o in v.objects:
            objects.append({"shot": v.segment_index, "label": o.label, "count": o.count,
                            "frames": o.frames, "max_score": round(o.max_score, 3)})
        for t in v.texts:
            texts.append({"shot": v.segment_index, "t_s": round(t.t_s, 3), "text": t.text,
                          "confidence": round(t.confidence, 3)})
    return {"objects": objects, "screen_text": texts}
