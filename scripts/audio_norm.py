"""Recompute assetdb/models/sound_norm.json: per-value mean and std of the
180 pooled MFCC/delta/delta-delta means and of the 10 spectral descriptors over
5 s windows of a reference corpus, plus the block weights (see
assetdb.models.sound_features.normalise and normalise_desc).

Default corpus: every audio/video file under ../shared/data/media except
audio/esc50 (held out: the --sounds-like test ranks those clips). Changing the
statistics changes the vector space: bump the "@1" in SPACE and re-run the
audio stage.

    PYTHONPATH=. python scripts/audio_norm.py [FILES...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from assetdb.media.audio import decode_audio
from assetdb.models.sound_features import DIM, N_MFCC, NORM_FILE, Span, descriptor, featurise
from assetdb.models.vad import SileroVad

WINDOW_S = 5.0


def shared_media() -> Path:
    """``../shared/data/media`` from the repository root (worktrees sit one level deeper)."""
    here = Path(__file__).resolve().parents[1]
    for d in (here, *here.parents):
        if (d / ".." / "shared" / "data").is_dir():
            return (d / ".." / "shared" / "data" / "media").resolve()
    raise FileNotFoundError("../shared/data not found above " + str(here))


def corpus() -> list[Path]:
    root = shared_media()
    out = []
    for p in sorted((root / "audio").rglob("*")) + sorted((root / "video").glob("*")):
        if p.is_file() and p.suffix.lower() not in (".txt", ".csv") and "esc50" not in p.parts:
            out.append(p)
    return out


def main(argv: list[str]) -> None:
    files = [Path(a) for a in argv] or corpus()
    rows, descs = [], []
    vad = SileroVad.shared()
    for path in files:
        audio = decode_audio(path)
        if not audio.usable:
            continue
        dur = audio.duration_s
        spans = [
            Span(i, a, min(dur, a + WINDOW_S))
            for i, a in enumerate(np.arange(0.0, dur, WINDOW_S))
            if min(dur, a + WINDOW_S) - a >= WINDOW_S / 5 or a == 0
        ]
        for f in featurise(audio, spans, vad.probabilities(audio.samples)):
            if f.vector is not None:
                rows.append(f.mfcc_raw)
                descs.append(descriptor(f))
    x = np.asarray(rows, np.float64)
    weight = np.ones(DIM)
    weight[0] = 0.0  # c0 is level; loudness is stored on its own
    weight[N_MFCC:] = 0.5  # delta means are near zero: z-scoring them amplifies noise
    NORM_FILE.write_text(
        json.dumps(
            {
                "windows": len(rows),
                "files": len(files),
                "window_s": WINDOW_S,
                "mean": [round(float(v), 6) for v in x.mean(axis=0)],
                "std": [round(float(v), 6) for v in x.std(axis=0)],
                "weight": weight.tolist(),
                "desc_mean": [round(float(v), 6) for v in np.mean(descs, axis=0)],
                "desc_std": [round(float(v), 6) for v in np.std(descs, axis=0)],
            },
            indent=None,
        )
        + "\n"
    )
    print(f"{len(rows)} windows from {len(files)} files -> {NORM_FILE}")


if __name__ == "__main__":
    main(sys.argv[1:])
