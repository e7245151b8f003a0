"""Faces: dlib HOG (or CNN) detection, 5-point alignment, 128-d ResNet identity
embedding, per-face quality, on keyframes and a few extra frames per shot.

The models are :class:`assetdb.models.faces.FaceModels`. ``run`` is pure: it
reads the media and keyframe JPEGs and writes face crop thumbnails under
``<data_dir>/faces/<asset_id>/``; ``write`` stores the faces and assigns them
to persons incrementally (``assetdb.faces.assign_new_faces``).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from assetdb import layout
from assetdb.media.frames import frames_at
from assetdb.media.images import load_rgb
from assetdb.media.times import MediaTime
from assetdb.models.faces import FaceModels, choose_detector
from indexer.extractors.base import Extractor
from indexer.work import AssetWork

log = logging.getLogger(__name__)

# Frames are analysed with their long side at most this (larger photos are
# downscaled: a 2 MP photo took 0.19 s at upsample 0 and 0.92 s at upsample 1).
DETECT_MAX_PX = 1280
# HOG's smallest face is about 80 px at upsample 0 and 40 px at upsample 1.
# Upsampling costs ~4x; it is worth it on small frames (640x360 video, where
# faces are 40-80 px) and not on large ones (`bench/faces.py` measures both).
UPSAMPLE_BELOW_PX = 1000
# Quality floor (a face below any of these is stored but never seeds a person).
MIN_SIZE_PX = 32  # Chaplin in chaplin.mp4 (640x360) is 36 px and clusters fine
MIN_SHARPNESS = 5.0  # Laplacian variance, 96x96 grey chip: soft video faces ~5-10, blur <5
MIN_FRONTALNESS = 0.35
MIN_DET_SCORE = 0.3
# Extra frames decoded per shot besides its keyframes, and their spacing.
EXTRA_FRAMES_PER_SHOT = 6
MIN_FRAME_GAP_S = 0.4
# When the extra frames are analysed: "always", "asset" (the keyframes found a face
# somewhere in the file), "shot" (in that shot). bench/faces_gate.py on the 18 sample
# videos: "asset" takes 0.44 of the time but loses good faces in 2 of the 11 shots that
# have one, Chaplin's in chaplin.mp4 among them ("shot": 0.65, the same 2 lost). Kept
# "always"; the others are options for an archive that trades faces for speed.
EXTRA_WHEN = "always"
# Two detections in one shot are the same face when their embeddings are this
# close and their boxes overlap (or the embeddings are very close).
DEDUPE_DIST = 0.45
DEDUPE_IOU = 0.3
DEDUPE_DIST_STRICT = 0.3
CROP_MAX_PX = 160
NMS_IOU = 0.5
CROP_MARGIN = 0.25


@dataclass
class FaceRow:
    segment_index: int
    t_ms: int
    frame_ts: int | None
    frame_width: int
    frame_height: int
    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    det_score: float
    size_px: int
    sharpness: float
    frontalness: float
    quality: float
    low_quality: bool
    embedding: np.ndarray  # float32 (128,)
    detector: str = "hog"
    frames_seen: int = 1
    crop_path: str | None = None  # relative to the data dir


@dataclass
class FacesResult:
    faces: list[FaceRow] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0


@dataclass
class _Frame:
    segment_index: int
    t_ms: int
    frame_ts: int | None
    rgb: np.ndarray


def choose_upsample(width: int, height: int) -> int:
    return 1 if max(width, height) <= UPSAMPLE_BELOW_PX else 0


def laplacian_variance(grey: np.ndarray) -> float:
    g = grey.astype(np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def frontalness(points: np.ndarray) -> float:
    """1 for a frontal face, towards 0 in profile: how far the nose base (point 4
    of dlib's 5-point model) sits from the middle of the two eyes, along the eye
    line, relative to the eye distance."""
    eye_a = points[0:2].mean(axis=0)
    eye_b = points[2:4].mean(axis=0)
    axis = eye_b - eye_a
    dist = float(np.linalg.norm(axis))
    if dist < 1e-6:
        return 0.0
    offset = float(np.dot(points[4] - (eye_a + eye_b) / 2, axis / dist))
    return float(max(0.0, 1.0 - 2.0 * abs(offset) / dist))


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def analyse_frame(models: FaceModels, rgb: np.ndarray, num_jitters: int = 0) -> list[dict]:
    """Detect, align and embed every face of one RGB frame (H, W, 3 uint8)."""
    h, w = rgb.shape[:2]
    scale = 1.0
    work = rgb
    if max(h, w) > DETECT_MAX_PX:
        from PIL import Image

        scale = DETECT_MAX_PX / max(h, w)
        im = Image.fromarray(rgb).resize(
            (max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR
        )
        work = np.asarray(im)
    work = np.ascontiguousarray(work)
    out = []
    dets = sorted(
        models.detect(work, choose_upsample(work.shape[1], work.shape[0])), key=lambda d: -d[1]
    )
    kept: list[tuple[Any, float]] = []
    for rect, score in dets:
        # HOG's sub-detectors can report one face twice (same box, two scores).
        b = (rect.left(), rect.top(), rect.width(), rect.height())
        if any(box_iou(b, (k.left(), k.top(), k.width(), k.height())) > NMS_IOU for k, _ in kept):
            continue
        kept.append((rect, score))
    for rect, score in kept:
        shape = models.shape(work, rect)
        emb = np.asarray(models.rec.compute_face_descriptor(work, shape, num_jitters), np.float32)
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        chip = np.asarray(models.dlib.get_face_chip(work, shape, size=96))
        grey = chip.mean(axis=2)
        x0 = max(0, rect.left())
        y0 = max(0, rect.top())
        x1 = min(work.shape[1], rect.right())
        y1 = min(work.shape[0], rect.bottom())
        box = (
            round(x0 / scale),
            round(y0 / scale),
            round((x1 - x0) / scale),
            round((y1 - y0) / scale),
        )
        out.append(
            {
                "box": box,
                "det_score": score,
                "size_px": min(box[2], box[3]),
                "sharpness": laplacian_variance(grey),
                "frontalness": frontalness(pts),
                "embedding": emb,
            }
        )
    return out


def face_quality(size_px: int, sharpness: float, front: float, det_score: float) -> float:
    """A 0..1 score used to pick representative faces and order seeds."""
    s = min(1.0, size_px / 100.0)
    sh = min(1.0, sharpness / 100.0)
    d = min(1.0, max(0.0, det_score) / 1.5)
    return float(round(s * 0.3 + sh * 0.3 + front * 0.25 + d * 0.15, 4))


def is_low_quality(size_px: int, sharpness: float, front: float, det_score: float) -> bool:
    return (
        size_px < MIN_SIZE_PX
        or sharpness < MIN_SHARPNESS
        or front < MIN_FRONTALNESS
        or det_score < MIN_DET_SCORE
    )


def extra_frame_times(work: AssetWork, per_shot: int) -> dict[int, list[float]]:
    """Times (s) of the extra frames to decode per segment index: evenly spaced
    inside the shot, away from its keyframes."""
    out: dict[int, list[float]] = {}
    if per_shot <= 0:
        return out
    for seg in work.segments:
        dur = seg.duration_s
        if dur <= 0:
            continue
        n = min(per_shot, int(dur / MIN_FRAME_GAP_S))
        kf = [k.time_s for k in seg.keyframes]
        times = []
        for i in range(n):
            t = seg.start_s + dur * (i + 1) / (n + 1)
            if all(abs(t - k) >= MIN_FRAME_GAP_S / 2 for k in kf):
                times.append(t)
        if times:
            out[seg.index] = times
    return out


def extra_frames(work: AssetWork, wanted: dict[int, list[float]]) -> list[_Frame]:
    """The wanted frames (the frame on screen at each time, rotation applied), by
    ``assetdb.media.frames.frames_at``."""
    segs = {s.index: s for s in work.segments}
    targets: dict[MediaTime, tuple[int, int]] = {}
    for si, times in wanted.items():
        tb = segs[si].time_base
        for t in times:
            targets[MediaTime(int(t / tb), tb)] = (si, round(t * 1000))
    if not targets:
        return []
    got = frames_at(work.path, list(targets), rotation=work.rotation)
    return [
        _Frame(si, t_ms, mt.ts, got[mt].rgb)
        for mt, (si, t_ms) in sorted(targets.items())
        if mt in got
    ]


def dedupe_shot(rows: list[tuple[FaceRow, np.ndarray]]) -> list[tuple[FaceRow, np.ndarray]]:
    """Keep one face per person per shot: the best quality one, counting the
    frames it was seen in. Faces of one frame never merge."""
    kept: list[tuple[FaceRow, np.ndarray]] = []
    for row, rgb in sorted(rows, key=lambda r: -r[0].quality):
        nb = (
            row.box[0] / row.frame_width,
            row.box[1] / row.frame_height,
            row.box[2] / row.frame_width,
            row.box[3] / row.frame_height,
        )
        match = None
        for k, _ in kept:
            if k.t_ms == row.t_ms:
                continue
            d = float(np.linalg.norm(k.embedding - row.embedding))
            kb = (
                k.box[0] / k.frame_width,
                k.box[1] / k.frame_height,
                k.box[2] / k.frame_width,
                k.box[3] / k.frame_height,
            )
            if d < DEDUPE_DIST_STRICT or (d < DEDUPE_DIST and box_iou(nb, kb) >= DEDUPE_IOU):
                match = k
                break
        if match is None:
            kept.append((row, rgb))
        else:
            match.frames_seen += 1
    return kept


def save_crop(rgb: np.ndarray, box: tuple[int, int, int, int], dest: Path) -> None:
    from PIL import Image

    x, y, w, h = box
    m = int(max(w, h) * CROP_MARGIN)
    H, W = rgb.shape[:2]
    crop = rgb[max(0, y - m) : min(H, y + h + m), max(0, x - m) : min(W, x + w + m)]
    if crop.size == 0:
        return
    im = Image.fromarray(crop)
    im.thumbnail((CROP_MAX_PX, CROP_MAX_PX))
    dest.parent.mkdir(parents=True, exist_ok=True)
    im.save(dest, quality=85)


class FacesExtractor(Extractor):
    """Options: ``detector`` ("hog" | "cnn" | "auto": CNN when dlib was built with
    CUDA), ``extra_frames`` per shot, ``num_jitters`` for the embedding."""

    name: ClassVar[str] = "faces"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"video", "image"})

    def _load(self) -> None:
        det = choose_detector(str(self.options.get("detector", "auto")), self.device)
        log.info("faces: %s detector", det)
        self.models = FaceModels.shared(det).load()

    def keyframes_for(self, work: AssetWork) -> list[_Frame]:
        if work.kind == "image":
            return [_Frame(0, 0, 0, load_rgb(work.path))]
        return [_Frame(seg.index, round(kf.time_s * 1000), kf.ts, load_rgb(kf.path))
                for seg in work.segments for kf in seg.keyframes]

    def extra_frames_for(self, work: AssetWork, found: set[int] | None) -> list[_Frame]:
        """The second pass over a video: frames between the keyframes, for every shot
        ("always"), or only when the keyframes found a face in the file ("asset") or in
        that shot ("shot"): option ``extra_when``. ``found``: the shots where the first
        pass found a face (None: not known, take every shot)."""
        if work.kind == "image":
            return []
        when = str(self.options.get("extra_when", EXTRA_WHEN))
        per_shot = int(self.options.get("extra_frames", EXTRA_FRAMES_PER_SHOT))
        wanted = extra_frame_times(work, per_shot)
        if found is not None and when == "asset" and not found:
            return []
        if found is not None and when == "shot":
            wanted = {si: ts for si, ts in wanted.items() if si in found}
        return extra_frames(work, wanted)

    def frames_for(self, work: AssetWork) -> list[_Frame]:
        return self.keyframes_for(work) + self.extra_frames_for(work, None)

    def _analyse(self, frames: list[_Frame], jitters: int,
                 by_shot: dict[int, list[tuple[FaceRow, np.ndarray]]]) -> None:
        for fr in frames:
            h, w = fr.rgb.shape[:2]
            for f in analyse_frame(self.models, fr.rgb, jitters):
                low = is_low_quality(f["size_px"], f["sharpness"], f["frontalness"], f["det_score"])
                row = FaceRow(
                    segment_index=fr.segment_index,
                    t_ms=fr.t_ms,
                    frame_ts=fr.frame_ts,
                    frame_width=w,
                    frame_height=h,
                    box=f["box"],
                    det_score=f["det_score"],
                    size_px=f["size_px"],
                    sharpness=f["sharpness"],
                    frontalness=f["frontalness"],
                    quality=face_quality(
                        f["size_px"], f["sharpness"], f["frontalness"], f["det_score"]
                    ),
                    low_quality=low,
                    embedding=f["embedding"],
                    detector=self.models.detector_name,
                )
                by_shot.setdefault(fr.segment_index, []).append((row, fr.rgb))

    def run_one(self, work: AssetWork) -> FacesResult:
        self.load()
        t0 = time.perf_counter()
        jitters = int(self.options.get("num_jitters", 0))
        by_shot: dict[int, list[tuple[FaceRow, np.ndarray]]] = {}
        frames = self.keyframes_for(work)
        self._analyse(frames, jitters, by_shot)
        extra = self.extra_frames_for(work, set(by_shot))
        self._analyse(extra, jitters, by_shot)
        frames += extra
        shutil.rmtree(Path(work.data_dir) / layout.face_crops_dir(work.asset_id),
                      ignore_errors=True)
        result = FacesResult(frames=len(frames))
        for si in sorted(by_shot):
            for k, (row, rgb) in enumerate(dedupe_shot(by_shot[si])):
                rel = layout.face_crop(work.asset_id, si, row.t_ms, k)
                save_crop(rgb, row.box, Path(work.data_dir) / rel)
                row.crop_path = rel
                result.faces.append(row)
        result.seconds = time.perf_counter() - t0
        return result

    def run(self, batch: list[AssetWork]) -> list[FacesResult]:
        return [self.run_one(w) for w in batch]
