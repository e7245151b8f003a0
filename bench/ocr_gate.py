"""What the OCR gate costs and loses: each frame OCR would read is read only when the
text detector, run alone on the frame shrunk to ``gate_px``, finds a text box.

    python bench/ocr_gate.py [--media DIR] [--stills N] [--gates 0,320,480,640]

Catalogues the sample media (every video, still and frame the OCR stage reads) plus N
ImageNet photos into a temporary store, then runs the real OCR extractor over the same
work items once per gate size (0 = no gate, the baseline of the same run). Prints
seconds, frames read, lines kept and the lines the baseline found that the gate lost.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.catalogued import SHARED, catalogued_works, still_links


def main() -> None:
    from indexer.extractors.ocr import OcrExtractor

    ap = argparse.ArgumentParser()
    ap.add_argument("--media", default=str(SHARED / "media"))
    ap.add_argument("--stills", type=int, default=200, help="ImageNet photos added (0: none)")
    ap.add_argument("--gates", default="0,320,480,640")
    args = ap.parse_args()
    gates = [int(g) for g in args.gates.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        lib = still_links(Path(tmp) / "stills", args.stills)
        works = catalogued_works(tmp, [args.media, lib])
        n_video = sum(w.kind == "video" for w in works)
        print(f"{len(works)} assets ({n_video} videos, {len(works) - n_video} stills)")
        found: dict[int, set] = {}
        rows = []
        for gate in gates:
            ext = OcrExtractor(gate_px=gate)
            ext.load()
            lines: set = set()
            read = gated = 0
            t0 = time.perf_counter()
            for w in works:
                r = ext.read_work(w)
                read += r.frames_read
                gated += r.frames_gated
                lines |= {(w.asset_id, ln.segment_index, ln.norm) for ln in r.lines}
            rows.append((gate, time.perf_counter() - t0, read, gated, lines))
            found[gate] = lines

        base = rows[0]
        kind = {w.asset_id: w.kind for w in works}
        name = {w.asset_id: Path(w.path).name for w in works}
        print(f"{'gate px':>8}{'seconds':>9}{'x base':>8}{'read':>7}{'gated':>7}"
              f"{'lines':>7}{'lost':>6}{'in video':>10}{'in stills':>11}")
        for gate, secs, read, gated, lines in rows:
            lost = base[4] - lines
            in_video = sorted(x for x in lost if kind[x[0]] == "video")
            print(f"{gate or 'off':>8}{secs:>9.1f}{secs / base[1]:>8.2f}{read:>7}{gated:>7}"
                  f"{len(lines):>7}{len(lost):>6}{len(in_video):>10}"
                  f"{len(lost) - len(in_video):>11}")
            for aid, seg, text in in_video[:10]:
                print(f"{'':>10}lost in video: {name[aid]} shot {seg}: {text!r}")


if __name__ == "__main__":
    main()
