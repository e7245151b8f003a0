"""Sounds-like vectors on the labelled sounds of ../shared/data: does a clip's
nearest neighbours share its class? Compares, in one run, the baseline (the MFCC
timbre + spectral-shape blend that ``--sounds-like`` used alone) with YAMNet's 521
class scores (max- and mean-pooled) and blends of the two; also prints the
sound-event extractor's real-time factor.

    PYTHONPATH=. python -m bench.sound_vectors [--data ../shared/data/media/audio]

Classes: speech (LibriSpeech, TIMIT-like sentences, jfk), music (the .ogg pieces),
thunderstorm (ESC-50 x3), dog (ESC-50 dog, the howling pibble); the other clips
(car horn, bird, whale, crunching, rain) are distractors only. Each clip of a class
with two or more members is a query against all the other clips; reported: P@1
(the nearest other clip has the same class) and mAP.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "media" / "audio"
MUSIC = ("sweet-waltz", "ragtime", "Hungarian_Dance", "Fishin", "Sugar_Plum", "Vibe_Ace",
         "Drum-bass", "trumpet")


def label_of(p: Path) -> str:
    n = p.name
    if p.parent.name == "speech" or n.startswith(("198-", "3436-", "5703-")) or n == "jfk.flac":
        return "speech"
    if any(m in n for m in MUSIC):
        return "music"
    if n.endswith("-19.wav"):
        return "thunderstorm"
    if n.endswith("-0.wav") or n.startswith("pibble"):
        return "dog"
    return "other:" + p.stem


def clips(root: Path) -> list[Path]:
    exts = {".wav", ".ogg", ".mp3", ".flac"}
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in exts)


def evaluate(vecs: np.ndarray, labels: list[str]) -> tuple[float, float, int]:
    sims = vecs @ vecs.T
    p1, aps = [], []
    for i, lab in enumerate(labels):
        if lab.startswith("other:") or labels.count(lab) < 2:
            continue
        order = [j for j in np.argsort(-sims[i]) if j != i]
        rel = np.array([labels[j] == lab for j in order], dtype=float)
        p1.append(rel[0])
        hits = np.cumsum(rel)
        aps.append(float((hits / np.arange(1, len(rel) + 1))[rel > 0].mean()))
    return float(np.mean(p1)), float(np.mean(aps)), len(p1)


def unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()

    from assetdb.media.audio import decode_audio
    from assetdb.models.sound_events import pool_vector
    from assetdb.models.sound_features import analyse_audio
    from assetdb.models.yamnet import YamNet

    model = YamNet.shared().load()
    files = clips(args.data)
    labels = [label_of(p) for p in files]
    mfcc, desc, ymax, ymean = [], [], [], []
    audio_s = yam_s = 0.0
    for p in files:
        a = decode_audio(p)
        seg = analyse_audio(a).segments[0]
        mfcc.append(seg.vector)
        desc.append(seg.desc_vector)
        t = time.perf_counter()
        _, scores = model.scores(a.samples)
        yam_s += time.perf_counter() - t
        audio_s += a.duration_s
        ymean.append(pool_vector(scores))  # what the extractor stores
        m = np.sqrt(scores.max(axis=0))
        ymax.append(m / np.linalg.norm(m))
    mfcc, desc = np.stack(mfcc), np.stack(desc)
    ymax, ymean = np.stack(ymax), np.stack(ymean)
    blend_base = 0.5 * (mfcc @ mfcc.T) + 0.5 * (desc @ desc.T)

    def from_sims(s: np.ndarray) -> tuple[float, float, int]:
        # evaluate() takes vectors; factor a similarity matrix through its eigenvectors
        w, v = np.linalg.eigh((s + s.T) / 2)
        return evaluate(v * np.sqrt(np.clip(w, 0, None)), labels)

    rows = [
        ("baseline: MFCC timbre + shape (0.5/0.5)", from_sims(blend_base)),
        ("MFCC timbre alone", evaluate(mfcc, labels)),
        ("YAMNet 521 scores, max-pooled, sqrt", evaluate(ymax, labels)),
        ("YAMNet 521 scores, mean-pooled, sqrt (stored)", evaluate(ymean, labels)),
        ("0.5 baseline + 0.5 YAMNet max", from_sims(0.5 * blend_base + 0.5 * (ymax @ ymax.T))),
        ("0.5 baseline + 0.5 YAMNet mean", from_sims(0.5 * blend_base + 0.5 * (ymean @ ymean.T))),
        ("0.2 baseline + 0.8 YAMNet mean", from_sims(0.2 * blend_base + 0.8 * (ymean @ ymean.T))),
    ]
    print(f"{len(files)} clips, classes: "
          + ", ".join(f"{c} {labels.count(c)}" for c in sorted(set(labels)) if ":" not in c))
    print(f"{'vector':44s} {'P@1':>6s} {'mAP':>6s}  queries")
    for name, (p1, m, n) in rows:
        print(f"{name:44s} {p1:6.3f} {m:6.3f}  {n}")
    print(f"YAMNet cost: {yam_s:.2f} s for {audio_s:.1f} s of audio: real-time factor "
          f"{yam_s / audio_s:.4f} ({audio_s / yam_s:.0f}x faster than real time, one core)")


if __name__ == "__main__":
    main()
