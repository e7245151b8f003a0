"""Real-time factors of the sound stages on CPU: audio seconds processed per wall
second, for decode+resample (the baseline every stage pays), librosa features,
silero-vad, whisper tiny.en transcription (on VAD speech only, and on the whole
track without VAD for comparison) and the MiniLM line embeddings. One run, one table.

    PYTHONPATH=. python bench/audio.py [--threads N] [FILES...]

Defaults to a mix of speech, music and ambience from ../shared/data/media.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT = [
    "video/issue-195-aspect-ratio.mp4",  # people talking, 25 s
    "video/Megamind.avi",  # film dialogue, AC-3, 11 s
    "video/big_buck_bunny_0_30.webm",  # music and effects, 30 s
    "audio/jfk.flac",  # a speech, 11 s
    "audio/rain.mp3",  # ambience, 60 s
    "audio/Karissa_Hobbs_-_Lets_Go_Fishin.ogg",  # a song, 133 s
]


def shared_media() -> Path:
    here = Path(__file__).resolve().parents[1]
    for d in (here, *here.parents):
        if (d / ".." / "shared" / "data").is_dir():
            return (d / ".." / "shared" / "data" / "media").resolve()
    raise SystemExit("../shared/data not found")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*")
    ap.add_argument("--threads", type=int, default=2, help="whisper CPU threads")
    args = ap.parse_args()
    files = [Path(f) for f in args.files] or [shared_media() / f for f in DEFAULT]

    from assetdb.media.audio import decode_audio
    from assetdb.models.sound_features import Span, featurise, frame_features
    from assetdb.models.text import SentenceEncoder
    from assetdb.models.vad import SileroVad, speech_stretches
    from indexer.extractors.transcribe import Transcriber

    t0 = time.perf_counter()
    vad = SileroVad.shared().load()
    tr = Transcriber(cpu_threads=args.threads)
    embed = SentenceEncoder.shared().load()
    load_s = time.perf_counter() - t0
    # warm-up: numba JIT of librosa and the first whisper call are one-off costs
    warm = decode_audio(files[0])
    frame_features(warm.samples[: 16000 * 2])
    tr.transcribe_samples(warm.samples[: 16000 * 3], 16000)
    embed(["warm up"])

    totals = dict.fromkeys(
        ["audio", "decode", "features", "vad", "speech", "asr_vad", "asr_full", "embed"], 0.0
    )
    rows = []
    for path in files:
        t = time.perf_counter()
        audio = decode_audio(path)
        dec = time.perf_counter() - t
        dur = audio.duration_s
        if not audio.usable:
            print(f"skip {path.name}: {audio.status}", file=sys.stderr)
            continue
        t = time.perf_counter()
        probs = vad.probabilities(audio.samples)
        v = time.perf_counter() - t
        t = time.perf_counter()
        frames = frame_features(audio.samples)
        spans = [
            Span(i, a, min(dur, a + 10.0))
            for i, a in enumerate(range(0, int(dur) + 1, 10))
            if a < dur
        ]
        featurise(audio, spans, probs, frames)
        f = time.perf_counter() - t
        speech = sum(s.end_s - s.start_s for s in speech_stretches(probs, dur))
        t = time.perf_counter()
        result = tr.transcribe_samples(audio.samples, audio.sample_rate)
        a_vad = time.perf_counter() - t
        t = time.perf_counter()
        segs, _ = tr.whisper.transcribe(
            audio.samples,
            language="en",
            beam_size=tr.beam_size,
            word_timestamps=tr.word_timestamps,
            condition_on_previous_text=False,
        )
        list(segs)
        a_full = time.perf_counter() - t
        t = time.perf_counter()
        embed([ln.text for ln in result.lines] or ["-"])
        e = time.perf_counter() - t
        rows.append(
            (
                path.name[:34],
                dur,
                speech,
                dur / dec,
                dur / f,
                dur / v,
                dur / a_vad,
                dur / a_full,
                len(result.lines),
            )
        )
        for k, val in zip(totals, (dur, dec, f, v, speech, a_vad, a_full, e), strict=True):
            totals[k] += val

    print(
        f"# sound stages on CPU ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores visible, whisper threads={args.threads}); "
        f"models loaded in {load_s:.1f} s"
    )
    print("# real-time factor = audio seconds per wall second (higher is faster)")
    hdr = (
        "file",
        "audio_s",
        "speech_s",
        "decode",
        "features",
        "vad",
        "asr(vad)",
        "asr(full)",
        "lines",
    )
    print("{:<34} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9} {:>9} {:>6}".format(*hdr))
    for r in rows:
        print(
            "{:<34} {:>8.1f} {:>8.1f} {:>8.0f} {:>9.1f} {:>8.0f} {:>9.1f} {:>9.1f} {:>6}".format(*r)
        )
    a = totals["audio"]
    print(
        "{:<34} {:>8.1f} {:>8.1f} {:>8.0f} {:>9.1f} {:>8.0f} {:>9.1f} {:>9.1f}".format(
            "ALL",
            a,
            totals["speech"],
            a / totals["decode"],
            a / totals["features"],
            a / totals["vad"],
            a / totals["asr_vad"],
            a / totals["asr_full"],
        )
    )
    print(
        f"# ratios to the decode baseline: features {totals['decode'] / totals['features']:.3f}, "
        f"vad {totals['decode'] / totals['vad']:.3f}, "
        f"asr(vad) {totals['decode'] / totals['asr_vad']:.3f}, "
        f"asr(full) {totals['decode'] / totals['asr_full']:.3f}; "
        f"VAD gating speeds whisper up x{totals['asr_full'] / totals['asr_vad']:.2f}; "
        f"line embeddings {a / max(totals['embed'], 1e-9):.0f}x real time"
    )


if __name__ == "__main__":
    main()
