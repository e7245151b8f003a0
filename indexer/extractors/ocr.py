"""On-screen text (OCR) per shot: title cards, slates, signs, screens, burnt-in timecode.

RapidOCR (PP-OCRv4 det + rec ONNX, from ``rapidocr-onnxruntime``) reads the
stored keyframes and, for video, a few extra frames in the first seconds of each
shot, where slates and titles often appear only briefly. Readings of the same line
in several frames of a shot are merged (near-identical text, same digits): the
best reading is kept, with the first time it was seen. Low-confidence readings
are dropped (threshold measured by ``bench/ocr_threshold.py``).

Each kept line is written to ``ocr_lines`` and to the free-text table (source
``ocr``) with its shot and time, plus a search form that splits CamelCase and
letters from digits and adds dictionary corrections of misread words, so
"Initiate Search Program" finds what OCR read as "InitiateSeorchProgram".
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assetdb.errors import ModelUnavailable
from assetdb.media.frames import frames_at, unique_frames
from assetdb.media.images import load_rgb
from assetdb.models.ocr import TextReader
from assetdb.models.text import vocab_file
from indexer.extractors.base import Extractor
from indexer.extractors.frames import FRAME_MAX_PX, shot_sample_times
from indexer.work import AssetWork, SegmentRef

log = logging.getLogger(__name__)

# Measured with bench/ocr_threshold.py (25 frames of the GoldenEye screens and the
# SMPTE card, lines judged against the words on screen): precision of kept lines
# 0.69 at 0.5 (RapidOCR's default), 0.77 at 0.7, 0.84 at 0.8, 0.92 at 0.9; 0.8 keeps
# every correct line (72/72), 0.9 loses one. Most lines still wrong at 0.8 are
# confident misreads of real words ("PAEFS" for PREFS at 0.96), not garbage.
MIN_CONFIDENCE = 0.8
# Extra frames after each shot's start (s): slates and title cards are often on
# screen for a second or two at the head of a take.
EXTRA_OFFSETS_S = (0.2, 1.0, 2.0)
# Then one frame every EVERY_S through the shot and one just before its end: text
# that is typed, scrolls or enters later (the GoldenEye prompt is complete only in
# the last second of its shot).
EVERY_S = 3.0
END_MARGIN_S = 0.3
NEAR_S = 0.4  # a frame this close to one already chosen in the shot is not read again
# A frame is a repeat of one already read in the shot (same text, not read again)
# when, on 160-px grey thumbnails, fewer than REPEAT_CHANGED_SHARE of the pixels
# changed by more than REPEAT_PIXEL_DIFF (0..255): typing one word changes more.
THUMB_PX = 160
REPEAT_PIXEL_DIFF = 24
REPEAT_CHANGED_SHARE = 0.002
LINE_SIMILARITY = 0.8  # letters of two readings at least this similar (same digits) = same line
CORRECTION_CUTOFF = 0.8
# Cheap before expensive: a frame is read only when the text detector, run alone on the
# frame shrunk to GATE_PX on its long side, finds a text box (0 = read every frame).
# bench/ocr_gate.py on the sample media + 100 ImageNet photos: 224 of 327 frames are
# not read; of the 85 lines read without the gate, it loses 2 in video (two misreadings,
# "bbicfou") and 9 in stills (photographers' small print in the corner of 400-px
# photos, which the reader finds only because it scales them up to 736 px first).
GATE_PX = 640
EXTRACTOR_REV = "2"  # 2: the gate

# Words of film production that general vocabularies lack.
PRODUCTION_WORDS = (
    "scene", "take", "roll", "slate", "director", "camera", "sound", "prod", "production",
    "date", "day", "night", "int", "ext", "offline", "online", "reel", "cam", "dop", "mos",
)  # fmt: skip

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ALNUM = re.compile(r"[A-Za-z]+|\d+")


def _letters(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalpha())


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@functools.cache
def _dictionary() -> frozenset[str]:
    """Whole English words (the MiniLM tokenizer vocabulary, if installed) plus
    production words; used to correct misread words."""
    words = set(PRODUCTION_WORDS)
    try:
        vocab = vocab_file()
    except ModelUnavailable:
        return frozenset(words)
    for w in vocab.read_text(encoding="utf-8").split():
        if len(w) >= 3 and w.isascii() and w.isalpha():
            words.add(w)
    return frozenset(words)


@functools.cache
def _by_length() -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for w in _dictionary():
        out.setdefault(len(w), []).append(w)
    return out


@functools.cache
def correct_word(word: str) -> str | None:
    """The dictionary word a misread word most likely is (None if known or no close one)."""
    if len(word) < 4 or word in _dictionary():
        return None
    cands = [w for n in range(len(word) - 1, len(word) + 2) for w in _by_length().get(n, ())]
    close = difflib.get_close_matches(word, cands, n=1, cutoff=CORRECTION_CUTOFF)
    return close[0] if close else None


def search_tokens(text: str, correct: bool = True) -> list[str]:
    """Lower-case tokens for search: CamelCase split, letters apart from digits,
    and (``correct``) each misread word followed by its dictionary correction."""
    out: list[str] = []
    for tok in _ALNUM.findall(_CAMEL.sub(" ", text)):
        t = tok.lower()
        out.append(t)
        if correct and t.isalpha():
            fix = correct_word(t)
            if fix:
                out.append(fix)
    return out


def search_text(text: str) -> str:
    """What the free-text row says for one OCR line: the reading, then its search
    form when that adds anything (split words, corrections)."""
    norm = " ".join(search_tokens(text))
    plain = " ".join(t.lower() for t in re.findall(r"\w+", text))
    return text if norm == plain else f"{text} [{norm}]"


@dataclass
class OcrReading:
    segment_index: int
    ts: int
    t_s: float
    text: str
    confidence: float
    box: tuple[float, float, float, float]  # normalised x1, y1, x2, y2


@dataclass
class OcrLineResult:
    segment_index: int
    text: str
    norm: str
    confidence: float
    ts: int
    t_s: float
    last_t_s: float
    frames: int
    box: tuple[float, float, float, float]


@dataclass
class OcrResult:
    lines: list[OcrLineResult] = field(default_factory=list)
    frames_read: int = 0
    frames_skipped: int = 0  # repeats of a frame already read in the shot
    frames_gated: int = 0  # no text box at the gate's size: not read


def _same_line(a: OcrReading, b: OcrReading) -> bool:
    if _digits(a.text) != _digits(b.text):
        return False
    la, lb = _letters(a.text), _letters(b.text)
    if la == lb:
        return True
    if not la or not lb:
        return False
    # text typed on screen: a reading that is (nearly, misreads allowed) the start of a
    # longer one ("Initiot" then "InitiateSearchProgram")
    short, long_ = sorted((la, lb), key=len)
    if len(short) >= 4 and len(long_) > len(short):
        return difflib.SequenceMatcher(None, short, long_[: len(short)]).ratio() >= LINE_SIMILARITY
    return difflib.SequenceMatcher(None, la, lb).ratio() >= LINE_SIMILARITY


def merge_readings(readings: list[OcrReading]) -> list[OcrLineResult]:
    """Group readings of the same line within each shot; keep the best reading among
    the longest ones (typing animations), the first time seen and the frame count."""
    groups: list[list[OcrReading]] = []
    for r in sorted(readings, key=lambda r: (r.segment_index, r.t_s)):
        for g in groups:
            if g[0].segment_index == r.segment_index and any(_same_line(r, m) for m in g):
                g.append(r)
                break
        else:
            groups.append([r])
    out = []
    for g in groups:
        longest = max(len(_letters(m.text)) + len(_digits(m.text)) for m in g)
        full = [m for m in g if len(_letters(m.text)) + len(_digits(m.text)) >= 0.9 * longest]
        best = max(full, key=lambda m: m.confidence)
        first = min(g, key=lambda m: m.t_s)
        out.append(
            OcrLineResult(
                segment_index=best.segment_index, text=best.text,
                norm=" ".join(search_tokens(best.text)), confidence=best.confidence,
                ts=first.ts, t_s=first.t_s, last_t_s=max(m.t_s for m in g),
                frames=len({m.t_s for m in g}), box=best.box,
            )
        )  # fmt: skip
    out.sort(key=lambda x: (x.segment_index, x.t_s, x.box[1], x.box[0]))
    return out


def _thumb(rgb: np.ndarray) -> np.ndarray:
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    size = (THUMB_PX, max(1, round(THUMB_PX * h / w)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.int16)


def is_repeat(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    changed = np.count_nonzero(np.abs(a - b) > REPEAT_PIXEL_DIFF)
    return changed < REPEAT_CHANGED_SHARE * a.size


class OcrExtractor(Extractor):
    """Options: ``min_confidence``, ``extra_offsets_s`` (head-of-shot frames) and
    ``every_s`` (0 = none); both empty/0 = keyframes only; ``gate_px`` (0 = no gate)."""

    name = "ocr"
    version = f"rapidocr-ppocrv4@{EXTRACTOR_REV}"
    kinds = frozenset({"video", "image"})

    def __init__(self, device: str = "cpu", **options: Any) -> None:
        super().__init__(device, **options)
        self.min_confidence = float(options.get("min_confidence", MIN_CONFIDENCE))
        self.extra_offsets_s = tuple(options.get("extra_offsets_s", EXTRA_OFFSETS_S))
        self.every_s = float(options.get("every_s", EVERY_S))
        self.gate_px = int(options.get("gate_px", GATE_PX))
        self.engine: Any = None
        if self.min_confidence != MIN_CONFIDENCE:
            self.version += f"/min{self.min_confidence:g}"
        if self.extra_offsets_s != EXTRA_OFFSETS_S:
            self.version += "/extra" + ",".join(f"{x:g}" for x in self.extra_offsets_s)
        if self.every_s != EVERY_S:
            self.version += f"/every{self.every_s:g}"
        if self.gate_px != GATE_PX:
            self.version += f"/gate{self.gate_px}"

    def _load(self) -> None:
        self.engine = TextReader.shared(text_score=min(0.5, self.min_confidence)).load()

    def read(self, rgb: np.ndarray) -> list[tuple[str, float, tuple[float, float, float, float]]]:
        """Text lines of one RGB frame above the confidence threshold."""
        self.load()
        return self.engine.read(rgb, self.min_confidence)

    def _extra_times(self, seg: SegmentRef) -> list[float]:
        return shot_sample_times(
            seg, self.extra_offsets_s, self.every_s, END_MARGIN_S, NEAR_S,
            exclude=[k.time_s for k in seg.keyframes],
        )  # fmt: skip

    def read_work(self, work: AssetWork) -> OcrResult:
        self.load()
        result = OcrResult()
        # (segment, ts, t_s, rgb) for every frame to read, keyframes first
        todo: list[tuple[SegmentRef, int, float, np.ndarray]] = []
        for seg in work.segments:
            for kf in seg.keyframes:
                todo.append((seg, kf.ts, kf.time_s, load_rgb(kf.path)))
        if work.kind == "video" and (self.extra_offsets_s or self.every_s):
            wanted = {t: seg for seg in work.segments for t in self._extra_times(seg)}
            if wanted:
                got = frames_at(
                    work.path, list(wanted), max_px=FRAME_MAX_PX, rotation=work.rotation
                )
                decoded = unique_frames(got)
                for seg in work.segments:
                    for t, pts, rgb in ((f.time_s, f.pts, f.rgb) for f in decoded):
                        if seg.start_s - 1e-3 <= t < seg.end_s:
                            todo.append((seg, pts, t, rgb))
        seen: dict[int, list[np.ndarray]] = {}
        readings: list[OcrReading] = []
        for seg, ts, t_s, rgb in todo:
            th = _thumb(rgb)
            prev = seen.setdefault(seg.index, [])
            if any(is_repeat(p, th) for p in prev):
                result.frames_skipped += 1
                continue
            prev.append(th)
            if self.gate_px and not self.engine.has_text(rgb, self.gate_px):
                result.frames_gated += 1
                continue
            result.frames_read += 1
            for text, conf, box in self.read(rgb):
                readings.append(OcrReading(seg.index, ts, t_s, text, conf, box))
        result.lines = merge_readings(readings)
        return result

    def run(self, batch: list[AssetWork]) -> list[OcrResult]:
        return [self.read_work(w) for w in batch]
