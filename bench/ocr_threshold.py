"""Measure the OCR confidence threshold: precision of the kept lines on frames whose
on-screen text is known (GoldenEye computer screens, the SMPTE test card), per
threshold and per engine setting. One run, one table.

    PYTHONPATH=$PWD python bench/ocr_threshold.py [--every 12]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data from the repository root (one level more from a git worktree)
DATA = next(
    (p for p in (ROOT / ".." / "shared" / "data", ROOT / ".." / ".." / "shared" / "data") if p.is_dir()),
    ROOT / ".." / "shared" / "data",
) / "media" / "video"
THRESHOLDS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9)
# Words on the GoldenEye screens, read by eye off the frames (typing animation shows
# prefixes of them, which count as correct).
GOLDENEYE_WORDS = {
    "send", "forum", "natalya", "luke", "offline", "enter", "message", "prefs", "b", "board",
    "spike", "sent", "initiate", "search", "program", "password",
}  # fmt: skip
TC = re.compile(r"^(\d\d):(\d\d):(\d\d)[;:](\d\d)$")


def frames(name: str, every: int, max_px: int = 1280) -> list[tuple[float, np.ndarray]]:
    import av

    out = []
    with av.open(str(DATA / name)) as c:
        s = c.streams.video[0]
        first = None
        for i, f in enumerate(c.decode(s)):
            first = f.time if first is None else first
            if i % every:
                continue
            w, h = f.width, f.height
            k = min(1.0, max_px / max(w, h))
            bgr = f.to_ndarray(width=int(w * k) // 2 * 2, height=int(h * k) // 2 * 2, format="bgr24")
            out.append((f.time - first, bgr))
    return out


def correct_goldeneye(text: str, t: float) -> bool:
    from indexer.extractors.ocr import search_tokens

    toks = search_tokens(text, correct=False)
    return bool(toks) and all(any(w.startswith(tok) for w in GOLDENEYE_WORDS) for tok in toks)


def correct_smpte(text: str, t: float) -> bool:
    n = round(t * 30000 / 1001)  # 29.97 fps frame counter; < 1 min so no dropped numbers
    m = TC.match(text.strip())
    if m:
        return m.groups() == ("00", "00", f"{n // 30:02d}", f"{n % 30:02d}")
    try:
        v = float(text)
    except ValueError:
        return False
    return abs(v - t) < 0.02 or abs(v - n) < 0.5


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=int, default=12, help="OCR every Nth frame")
    args = ap.parse_args()
    from assetdb.models.ocr import TextReader

    sets = [
        ("goldeneye-vfr-drop3.mp4", frames("goldeneye-vfr-drop3.mp4", args.every), correct_goldeneye),
        ("smpte-2997.mp4", frames("smpte-2997.mp4", args.every * 2), correct_smpte),
    ]
    configs = {
        "default (cls on, det min side 736)": {"text_score": 0.3, "use_cls": True},
        "cls off": {"text_score": 0.3, "use_cls": False},
        "cls off, det max side 960": {
            "text_score": 0.3, "use_cls": False, "det_limit_type": "max", "det_limit_side_len": 960
        },
    }
    print(f"frames: {', '.join(f'{n} {len(fr)}' for n, fr, _ in sets)}")
    print("| engine | s/frame | " + " | ".join(f"prec@{t} (kept)" for t in THRESHOLDS) + " |")
    print("|---|---|" + "---|" * len(THRESHOLDS))
    wrong_examples: dict[str, list[tuple[str, float]]] = {}
    for cname, cfg in configs.items():
        eng = TextReader(**cfg).load().engine
        lines: list[tuple[float, bool, str]] = []
        n_frames, t0 = 0, time.perf_counter()
        for _, frs, judge in sets:
            for t, bgr in frs:
                res, _ = eng(bgr)
                n_frames += 1
                for _box, text, score in res or []:
                    lines.append((float(score), judge(text, t), text))
        spf = (time.perf_counter() - t0) / n_frames
        cells = []
        for th in THRESHOLDS:
            kept = [ok for s, ok, _ in lines if s >= th]
            prec = sum(kept) / len(kept) if kept else float("nan")
            cells.append(f"{prec:.3f} ({sum(kept)}/{len(kept)})")
        print(f"| {cname} | {spf:.2f} | " + " | ".join(cells) + " |")
        wrong_examples[cname] = sorted(((x, round(s, 2)) for s, ok, x in lines if not ok), key=lambda v: -v[1])
    for cname, ex in wrong_examples.items():
        print(f"wrong lines, {cname}: {ex[:25]}")


if __name__ == "__main__":
    main()
