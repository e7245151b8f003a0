"""Typed sound-event queries over the sounds of ../shared/data, before and after the
``sound_events`` extractor, in one run.

Ingests ``media/audio`` into a scratch data dir with the extractors a catalogue had
before (catalogue text: file names, paths, sidecar .txt; ``audio``; ``transcript``),
runs the queries (``before``), then adds ``sound_events`` to a copy of that
catalogue and runs them again (``after``). Each query's right answers were judged
from the ESC-50 labels, the sidecar descriptions and listening; they are whole
files, so search runs with one hit per file (``per_asset``). Reported: top-1
(the first file is right), top-3 (a right file in the first three), mAP (over the
first 10 files; a right file not returned counts as missed), mean query latency
(warm, after one query loaded the models) and the extractor's ingest time.

    PYTHONPATH=. python -m bench.sound_eval [--data ../shared/data/media/audio] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "media" / "audio"

DOG = {"1-100032-A-0.wav", "pibble.ogg"}
THUNDER = {"3-103051-C-19.wav", "4-156993-A-19.wav", "5-156999-C-19.wav"}
HORN = {"2-100648-A-43.wav"}
BIRD = {"456440__inspectorj__bird-whistling-robin-single-13.ogg"}
CRUNCH = {"crunching.mp3"}
SPEECH = {f"spk{s}_snt{i}.wav" for s in (1, 2) for i in range(1, 7)} | {
    "198-209-0000.ogg", "3436-172162-0000.ogg", "5703-47212-0000.ogg", "jfk.flac"}

QUERIES: list[tuple[str, set[str]]] = [
    ("a dog barking", DOG),
    ("dog", DOG),
    ("a dog howling", {"pibble.ogg"}),
    ("car horn", HORN),
    ("someone honking in traffic", HORN),
    ("thunderstorm", THUNDER),
    ("thunder during a storm", THUNDER),
    ("stormy weather", THUNDER),
    ("birds singing", BIRD),
    ("a bird chirping", BIRD),
    ("whale song", {"glacier-bay-humpback.ogg"}),
    ("someone eating crunchy food", CRUNCH),
    ("chewing", CRUNCH),
    ("rain falling", {"rain.mp3"}),
    ("orchestra playing", {"Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg"}),
    ("a trumpet", {"sorohanro_-_solo-trumpet-06.ogg"}),
    ("piano music", {"442789__lena-orsa__happy-music-pistachio-ice-cream-ragtime.ogg"}),
    ("drums", {"admiralbob77_-_Choice_-_Drum-bass.ogg"}),
    ("people talking", SPEECH),
    ("a man reading aloud", {"3436-172162-0000.ogg", "5703-47212-0000.ogg"}),
]


def run_queries(store, limit: int = 10) -> tuple[list[dict], float]:
    from assetdb.search import SearchRequest, search

    search(store, SearchRequest(query="warm up", per_asset=True, limit=1))
    out, spent = [], 0.0
    for q, rel in QUERIES:
        t = time.perf_counter()
        hits = search(store, SearchRequest(query=q, per_asset=True, limit=limit))
        spent += time.perf_counter() - t
        names = [Path(h.path).name for h in hits]
        good = [n in rel for n in names]
        hits_so_far, ap = 0, 0.0
        for i, g in enumerate(good, 1):
            if g:
                hits_so_far += 1
                ap += hits_so_far / i
        out.append({"query": q, "top1": bool(good[:1] and good[0]), "top3": any(good[:3]),
                    "ap": ap / len(rel), "first": names[0] if names else "-"})
    return out, spent / len(QUERIES)


def summary(rows: list[dict]) -> tuple[float, float, float]:
    n = len(rows)
    return (sum(r["top1"] for r in rows) / n, sum(r["top3"] for r in rows) / n,
            sum(r["ap"] for r in rows) / n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--keep", type=Path, help="keep the two data dirs here")
    args = ap.parse_args()

    from assetdb.config import load_settings
    from assetdb.db import Store
    from indexer.ingest import ingest

    root = Path(args.keep or tempfile.mkdtemp(prefix="sound-eval-"))
    before_dir, after_dir = root / "before", root / "after"

    def open_store(d: Path):
        return Store.open(load_settings(data_dir=d, database_url=f"sqlite:///{d / 'assetdb.sqlite3'}"),
                          upgrade_schema=True)

    if not (before_dir / "assetdb.sqlite3").is_file():
        before_dir.mkdir(parents=True, exist_ok=True)
        st = open_store(before_dir)
        t = time.perf_counter()
        ingest(st, [args.data], workers=1, extractors=["audio", "transcript"])
        print(f"ingest before (catalogue, audio, transcript): {time.perf_counter() - t:.1f} s")
        st.close()
    shutil.rmtree(after_dir, ignore_errors=True)
    shutil.copytree(before_dir, after_dir)
    st = open_store(after_dir)
    t = time.perf_counter()
    ingest(st, [args.data], workers=1, extractors=["sound_events"])
    events_s = time.perf_counter() - t
    st.close()

    results = {}
    for name, d in (("before", before_dir), ("after", after_dir)):
        st = open_store(d)
        results[name] = run_queries(st)
        st.close()

    print(f"{'query':32s} {'before: first file':44s} {'AP':>5s}   {'after: first file':44s} {'AP':>5s}")
    for b, a in zip(results["before"][0], results["after"][0], strict=True):
        print(f"{b['query'][:32]:32s} {b['first'][:44]:44s} {b['ap']:5.2f}   "
              f"{a['first'][:44]:44s} {a['ap']:5.2f}")
    print(f"\n{len(QUERIES)} sound-event queries      top-1  top-3    mAP  latency")
    for name in ("before", "after"):
        t1, t3, m = summary(results[name][0])
        print(f"{name:26s} {t1:6.2f} {t3:6.2f} {m:6.3f}  {results[name][1] * 1000:5.0f} ms")
    print(f"sound_events ingest: {events_s:.1f} s for the folder (models loaded once, one worker)")


if __name__ == "__main__":
    main()
