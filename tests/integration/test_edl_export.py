"""Editor exports that conform: CMX3600 EDLs per source rate, re-read through the
otio-cmx3600-adapter reader and checked frame by frame against the OTIO of the same
timeline; mixed-rate reels; refusals; reel names; FCP7 XML; search hits as selects."""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from pathlib import Path

import pytest

from tests.mediagen import make_video

NTSC = Fraction(30000, 1001)
RATES = {
    "23.976": Fraction(24000, 1001),
    "24": Fraction(24),
    "25": Fraction(25),
    "29.97": NTSC,
    "30": Fraction(30),
    "50": Fraction(50),
    "59.94": Fraction(60000, 1001),
}
EVENT = re.compile(r"^(\d{3})\s+(\S+)\s+(\S+)\s+(C|D \d{3})\s+(\S+) (\S+) (\S+) (\S+)$")


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """One generated clip per rate (two 1 s shots, stereo tone), made once."""
    d = tmp_path_factory.mktemp("rates")
    made: dict[str, Path] = {}

    def get(label: str, fps: Fraction | None = None, audio: bool = True) -> Path:
        key = f"{label}-{audio}"
        if key not in made:
            made[key] = make_video(d / f"clip_{label.replace('.', '_')}_{int(audio)}.mp4",
                                   shots_s=[1.0, 1.0], fps=fps or RATES[label],
                                   size=(64, 48), audio=audio)
        return made[key]

    return get


def clip_of(path: Path, a: int, b: int, *, audio: bool = True, tc: int = 0,
            drop: bool | None = None, tape: str | None = None):
    """A reel clip of frames [a, b) of a real file, on its frame grid."""
    from assetdb.highlights.reel import Clip
    from assetdb.media.grid import frame_grid

    g = frame_grid(path)
    return Clip(
        asset_id=1, path=str(path), segment_id=1, segment_index=0, start_frame=a, end_frame=b,
        start_s=g.time(a), end_s=g.time(b), rate=g.rate, time_base=g.time_base,
        start_pts=int(g.pts[a]), end_pts=int(g.pts[b]) if b < g.n else g.end_pts,
        variable_rate=g.variable, score=0.5, has_audio=audio, handle_lo_frame=0,
        handle_hi_frame=g.n, source_frames=g.n, tc_start=tc, tc_drop=drop, tape=tape,
    )


def events(text: str) -> list[tuple[str, ...]]:
    return [m.groups() for line in text.splitlines() if (m := EVENT.match(line))]


def otio_video(path: Path):
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(path))
    return tl, [c for c in tl.video_tracks()[0] if isinstance(c, otio.schema.Clip)]


def dissolve_before(tl) -> list[int]:
    """Frames of each video clip's incoming dissolve taken before its cut (OTIO in_offset)."""
    import opentimelineio as otio

    out, pending = [], 0
    for item in tl.video_tracks()[0]:
        if isinstance(item, otio.schema.Transition):
            pending = round(item.in_offset.value)
        elif isinstance(item, otio.schema.Clip):
            out.append(pending)
            pending = 0
    return out


@pytest.mark.parametrize(("label", "drop"), [
    ("23.976", None), ("24", None), ("25", None), ("29.97", None), ("29.97", False),
    ("30", None), ("50", None), ("59.94", None),
])
def test_edl_round_trips_per_rate(media, tmp_path, label, drop):
    """Every standard rate: the adapter reads back the OTIO's source frames, from the
    source's start timecode; record starts where asked; FCM says DF only at 29.97/59.94."""
    import opentimelineio as otio

    from assetdb.highlights.edl import parse_timecode
    from assetdb.highlights.export import write_reel
    from assetdb.highlights.reel import Reel

    rate = RATES[label]
    path = media(label)
    df = drop is not False and label in ("29.97", "59.94")
    sep = ";" if df else ":"
    # source and record both cross a minute boundary (where drop-frame skips labels)
    tc = parse_timecode(f"10:00:59{sep}20", rate)
    rec_start = f"00:59:59{sep}20"
    nominal = round(float(rate))
    clips = [clip_of(path, 3, nominal // 2, tc=tc, drop=drop),
             clip_of(path, nominal - 10, nominal - 2, tc=tc, drop=drop),
             clip_of(path, nominal + 2, nominal + nominal // 2, tc=tc, drop=drop)]
    clips[1].xfade_out = clips[2].xfade_in = (2, 2)  # a dissolve centred on the cut
    reel = Reel(clips=clips, target_s=2.0, order="chrono")
    edl = write_reel(reel, tmp_path / "r.edl", record_start=rec_start)
    tl, vclips = otio_video(write_reel(reel, tmp_path / "r.otio", record_start=rec_start))
    text = edl.read_text()

    assert text.splitlines()[1] == ("FCM: DROP FRAME" if df else "FCM: NON-DROP FRAME")
    ev = events(text)
    assert ev[0][6] == rec_start
    assert ev[-1][7].startswith("01:00:0") and ev[-1][5].startswith("10:01:0")
    if df:  # the first two labels of a minute do not exist in drop-frame
        assert not any(t.endswith(("01:00;00", "01:00;01")) for e in ev for t in e[4:])
    assert all((";" in e[4]) == df for e in ev)
    assert [e[2] for e in ev] == ["AA/V"] * 4  # picture and sound in every event
    assert ev[3][3] == "D 004"
    assert text.count("* FROM CLIP NAME: " + path.name) == 3
    assert text.count(f"* SOURCE FILE: {path}") == 3

    back = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=float(rate))
    assert [t.name for t in back.tracks] == ["V", "A1", "A2"]
    for track in back.tracks:
        eclips = [c for c in track if isinstance(c, otio.schema.Clip)]
        assert len(eclips) == len(vclips)
        befores = dissolve_before(tl) + [0]
        for i, (ec, oc) in enumerate(zip(eclips, vclips, strict=True)):
            # an EDL dissolve starts at the cut minus the frames taken before it
            o_in = round(oc.source_range.start_time.value) - befores[i]
            o_out = round(oc.source_range.end_time_exclusive().value) - befores[i + 1]
            assert round(ec.source_range.start_time.value) == o_in
            assert round(ec.source_range.end_time_exclusive().value) == o_out
            assert ec.name == path.name
            assert any(f"SOURCE FILE: {path}" in x for x in ec.metadata["cmx_3600"]["comments"])
        assert oc.source_range.start_time.value >= tc
    assert round(back.video_tracks()[0].duration().value) == sum(c.frames for c in clips)
    # the JSON export shows the same source timecode as the EDL
    assert reel.to_dict()["clips"][0]["tc_in"] == ev[0][4]
    # the OTIO timeline starts at the record start too
    assert tl.global_start_time.value == parse_timecode(rec_start, rate, df)


def test_mixed_rate_reel_keeps_each_source_rate(media, tmp_path):
    """25, 29.97 and 23.976 sources in one EDL: source timecode at each source's own rate
    (no 25 fps timecode written as drop-frame), FCM where the mode changes, record
    timecode contiguous at the record rate."""
    from otio_cmx3600_adapter.cmx_3600 import ClipHandler, CommentHandler

    from assetdb.highlights.edl import write_edl
    from assetdb.highlights.export import to_otio
    from assetdb.highlights.reel import Reel

    p25, p30, p24 = media("25"), media("29.97", audio=False), media("23.976")
    clips = [clip_of(p25, 0, 20), clip_of(p30, 5, 35, audio=False), clip_of(p24, 1, 25),
             clip_of(p25, 17, 47, tc=153)]
    reel = Reel(clips=clips, target_s=4.0, order="chrono")
    text = write_edl(reel, "mixed")
    lines = text.splitlines()
    assert lines[:2] == ["TITLE: mixed", "FCM: NON-DROP FRAME"]
    # FCM stated before the 29.97 event and again when 23.976 follows it, nowhere else
    fcm = [(i, ln) for i, ln in enumerate(lines) if ln.startswith("FCM")]
    assert [ln for _, ln in fcm] == ["FCM: NON-DROP FRAME", "FCM: DROP FRAME",
                                     "FCM: NON-DROP FRAME"]
    assert lines[fcm[1][0] + 1].startswith("002") and lines[fcm[2][0] + 1].startswith("003")
    ev = events(text)
    assert [e[2] for e in ev] == ["AA/V", "V", "AA/V", "AA/V"]
    # the issue's example: frame 170 at 25 fps is 00:00:06:20, never 00:00:06;23
    assert ev[3][4] == "00:00:06:20"  # start timecode 153 + frame 17
    assert ";" in ev[1][4] and ";" not in ev[0][4] + ev[2][4] + ev[3][4]

    # each event re-read by the adapter's own event reader at its source's rate
    tl = to_otio(reel)
    vclips = [c for c in tl.video_tracks()[0]]
    blocks: list[list[str]] = []
    for ln in lines:
        if EVENT.match(ln):
            blocks.append([ln])
        elif blocks and ln.startswith("*"):
            blocks[-1].append(ln)
    for block, clip, oc in zip(blocks, clips, vclips, strict=True):
        comments = CommentHandler(block[1:]).handled
        h = ClipHandler(block[0], comments, rate=float(clip.rate))
        assert round(h.clip.source_range.start_time.value) == round(
            oc.source_range.start_time.value)
        assert round(h.clip.source_range.duration.value) == clip.frames
        assert h.clip.name == Path(clip.path).name
    # record: contiguous at 25 fps from 01:00:00:00, real durations
    from assetdb.highlights.edl import parse_timecode

    rec = [(parse_timecode(e[6], Fraction(25)), parse_timecode(e[7], Fraction(25))) for e in ev]
    assert rec[0][0] == 90000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(rec))
    total_s = sum(Fraction(c.frames) / c.rate for c in clips)
    assert rec[-1][1] - rec[0][0] == round(total_s * 25)


@pytest.mark.parametrize("fps", [Fraction(15), Fraction(10), Fraction(26777, 1000), "vfr"])
def test_rates_no_edl_can_express_are_refused_in_one_line(tmp_path, fps):
    import av

    from assetdb.highlights.edl import ExportError
    from assetdb.highlights.export import write_reel
    from assetdb.highlights.reel import Reel

    if fps == "vfr":
        path = tmp_path / "vfr.mp4"
        with av.open(str(path), "w") as out:  # frames 1/30 s and 3/30 s apart
            vs = out.add_stream("mpeg4", rate=30)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
            vs.codec_context.time_base = Fraction(1, 30)
            import numpy as np

            for i, pts in enumerate([0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21]):
                fr = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), "rgb24")
                fr.pts, fr.time_base = pts, Fraction(1, 30)
                for p in vs.encode(fr):
                    out.mux(p)
            for p in vs.encode():
                out.mux(p)
    else:
        path = make_video(tmp_path / "odd.mp4", shots_s=[1.0], fps=fps, size=(64, 48))
    clip = clip_of(path, 1, 6)
    if fps == "vfr":
        assert clip.variable_rate
    reel = Reel(clips=[clip], target_s=1.0, order="chrono")
    with pytest.raises(ExportError) as exc:
        write_reel(reel, tmp_path / "x.edl")
    msg = str(exc.value)
    assert "\n" not in msg and path.name in msg and ".otio" in msg
    assert ("variable frame rate" in msg) if fps == "vfr" else (" fps" in msg)
    assert not (tmp_path / "x.edl").exists()
    assert write_reel(reel, tmp_path / "x.otio").is_file()  # the format it names works
    if fps != "vfr":  # FCP7 XML counts at timecode rates too
        with pytest.raises(ExportError, match=r"cannot write FCP XML: .* a rate no FCP XML can express; export \.otio"):
            write_reel(reel, tmp_path / "x.xml")


def test_reel_names_fit_eight_characters_and_stay_unique(media, tmp_path):
    import shutil

    from assetdb.highlights.edl import reel_names, write_edl
    from assetdb.highlights.reel import Reel

    src = media("25")
    paths = []
    for name in ["shot_v003_1001.mp4", "shot_v003_1002.mp4", "my clip [v2] 'ok'.mp4", "a.mp4"]:
        paths.append(tmp_path / name)
        shutil.copy(src, paths[-1])
    clips = [clip_of(p, 0, 5) for p in paths] + [clip_of(src, 0, 5, tape="A001C003_220101")]
    names = reel_names(clips)
    assert len(set(names.values())) == len(clips)
    assert all(len(n) <= 8 and re.fullmatch(r"[A-Z0-9_]+", n) for n in names.values())
    assert names[str(paths[0])] == "SHOT_V00" and names[str(paths[1])] == "SHOT_V02"
    assert names[str(src)] == "A001C003"
    text = write_edl(Reel(clips=clips, target_s=1.0, order="chrono"))
    for p in paths:
        assert f"* FROM CLIP NAME: {p.name}" in text and f"* SOURCE FILE: {p}" in text
    assert all(len(e[1]) <= 8 for e in events(text))
    import opentimelineio as otio

    back = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=25)
    assert [c.metadata["cmx_3600"]["reel"] for c in back.video_tracks()[0]] == [
        names[c.path] for c in clips]


def test_bad_record_start_and_empty_timeline(media, tmp_path):
    from assetdb.highlights.edl import ExportError, check_timecode, write_edl
    from assetdb.highlights.reel import Reel

    for bad in ["1:00", "01:00:00:99", "01:61:00:00", "noon"]:
        with pytest.raises(ExportError, match="bad timecode"):
            check_timecode(bad)
    reel = Reel(clips=[clip_of(media("25"), 0, 5)], target_s=1.0, order="chrono")
    with pytest.raises(ExportError, match="bad timecode"):
        write_edl(reel, record_start="01:00:00:25")  # 25 frames do not exist at 25 fps
    assert events(write_edl(reel, record_start="10:00:00:00"))[0][6] == "10:00:00:00"
    with pytest.raises(ExportError, match="no clips"):
        write_edl(Reel(clips=[], target_s=0.0, order="chrono"))


def test_fcp7_xml_keeps_source_frames(media, tmp_path):
    import opentimelineio as otio

    from assetdb.highlights.export import write_reel
    from assetdb.highlights.reel import Reel

    path = media("25")
    clips = [clip_of(path, 0, 10, tc=90000), clip_of(path, 30, 45, tc=90000)]
    out = write_reel(Reel(clips=clips, target_s=1.0, order="chrono"), tmp_path / "r.xml")
    assert "<xmeml" in out.read_text()
    back = otio.adapters.read_from_file(str(out), adapter_name="fcp_xml")
    got = [(round(c.source_range.start_time.value), round(c.source_range.duration.value))
           for c in back.video_tracks()[0].find_clips()]
    assert got == [(90000, 10), (90030, 15)]


def test_cli_search_selects_and_highlights_edl(store, tmp_path):
    """`search --out` writes the hits as an EDL / OTIO timeline with a marker per hit, or
    a CSV shot list; a 15 fps hit in an EDL is refused in one line naming OTIO."""
    import csv
    import json

    import opentimelineio as otio
    from typer.testing import CliRunner

    from cli.main import app
    from tests.storework import ingest_one

    p25 = make_video(tmp_path / "pal_clip.mp4", shots_s=[1.0, 1.2, 1.0], fps=Fraction(25))
    p15 = make_video(tmp_path / "web_15fps.mp4", shots_s=[2.0, 2.0, 2.0, 2.0], fps=Fraction(15))
    ingest_one(store, p25, extractors=())
    ingest_one(store, p15, extractors=())
    root = ["--data-dir", str(store.settings.data_dir), "--database-url",
            store.settings.database_url]
    run = CliRunner().invoke

    r = run(app, [*root, "search", "--kind", "video", "--path", "*pal*", "--all-shots", "--json",
                  "--out", str(tmp_path / "sel.edl"), "--record-start", "10:00:00:00"])
    assert r.exit_code == 0, r.output
    hits = json.loads(r.stdout)
    assert len(hits) == 3 and "3 clips ->" in r.stderr
    text = (tmp_path / "sel.edl").read_text()
    ev = events(text)
    assert len(ev) == 3 and ev[0][6] == "10:00:00:00"
    assert text.count("* LOC: ") == 3 and "* FROM CLIP NAME: pal_clip.mp4" in text
    back = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=25)
    got = sorted(round(c.source_range.start_time.value) for c in back.video_tracks()[0])
    assert got == sorted(round(h["start_s"] * 25) for h in hits)
    assert sum(len(c.markers) for c in back.video_tracks()[0]) == 3

    r = run(app, [*root, "search", "--kind", "video", "--path", "*pal*", "--all-shots",
                  "--out", str(tmp_path / "sel.otio")])
    assert r.exit_code == 0, r.output
    tl = otio.adapters.read_from_file(str(tmp_path / "sel.otio"))
    markers = [m for c in tl.video_tracks()[0].find_clips() for m in c.markers]
    assert len(markers) == 3 and markers[0].name.startswith("#1 score")

    r = run(app, [*root, "search", "--kind", "video", "--all-shots",
                  "--out", str(tmp_path / "all.csv")])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader((tmp_path / "all.csv").open()))
    assert len(rows) == 7 and {r["file"] for r in rows} == {"pal_clip.mp4", "web_15fps.mp4"}
    pal = next(r for r in rows if r["file"] == "pal_clip.mp4" and r["shot"] == "1")
    assert (pal["tc_in"], pal["tc_out"], pal["duration"], pal["fps"], pal["reel"]) == (
        "00:00:01:00", "00:00:02:05", "00:00:01:05", "25", "PAL_CLIP")

    # the whole archive to an EDL: the 15 fps clip is refused, naming OTIO
    r = run(app, [*root, "search", "--kind", "video", "--out", str(tmp_path / "all.edl")])
    assert r.exit_code == 1
    assert r.stderr.strip().splitlines()[-1].startswith("error: cannot write an EDL: web_15fps")
    assert ".otio" in r.stderr and "Traceback" not in r.output
    # sound-only hits: audio events (AA) at the timeline's rate, a gap in the picture
    from tests.mediagen import make_tone

    ingest_one(store, make_tone(tmp_path / "room_tone.wav", seconds=4.0), extractors=())
    r = run(app, [*root, "search", "--path", "*room_tone*", "--json",
                  "--out", str(tmp_path / "snd.edl")])
    assert r.exit_code == 0, r.output
    sound = json.loads(r.stdout)
    ev = events((tmp_path / "snd.edl").read_text())
    assert sound and [e[2] for e in ev] == ["AA"] * len(sound)
    back = otio.adapters.read_from_string((tmp_path / "snd.edl").read_text(),
                                          adapter_name="cmx_3600", rate=25)
    assert [t.name for t in back.tracks] == ["A1", "A2"]
    assert sorted(round(c.source_range.start_time.value) for c in back.tracks[0]) == sorted(
        round(h["start_s"] * 25) for h in sound)
    r = run(app, [*root, "search", "--path", "*", "--out", str(tmp_path / "both.otio")])
    assert r.exit_code == 0, r.output
    tl = otio.adapters.read_from_file(str(tmp_path / "both.otio"))
    a1 = [c for c in tl.audio_tracks()[0].find_clips()]
    assert sum(c.name.startswith("room_tone.wav") for c in a1) == len(sound)
    assert all(not c.name.startswith("room_tone") for c in tl.video_tracks()[0].find_clips())

    r = run(app, [*root, "search", "--kind", "video", "--out", str(tmp_path / "x.edl"),
                  "--record-start", "25:99"])
    assert r.exit_code in (1, 2) and "bad timecode" in r.output
    r = run(app, [*root, "search", "--kind", "video", "--out", str(tmp_path / "x.mov")])
    assert r.exit_code == 1 and ".csv" in r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tree.avi", "cup.mp4", "fire2.mp4"])
def test_highlights_edl_of_the_issue_files_is_refused_in_one_line(sqlite_store, tmp_path, name):
    """The files that crashed `highlights --out x.edl` with a ValueError traceback
    (15 fps, 26.777 fps, VFR): one line naming OTIO, and the .otio export works."""
    from typer.testing import CliRunner

    from cli.main import app
    from tests.conftest import require_shared_data
    from tests.storework import ingest_one

    path = require_shared_data() / "media" / "video" / name
    ingest_one(sqlite_store, path)
    root = ["--data-dir", str(sqlite_store.settings.data_dir), "--database-url",
            sqlite_store.settings.database_url]
    r = CliRunner().invoke(app, [*root, "highlights", str(path), "--duration", "2",
                                 "--out", str(tmp_path / "x.edl")])
    assert r.exit_code == 1, r.output
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: cannot write an EDL: {name}") and ".otio" in line
    assert "Traceback" not in r.output and not (tmp_path / "x.edl").exists()
    r = CliRunner().invoke(app, [*root, "highlights", str(path), "--duration", "2",
                                 "--out", str(tmp_path / "x.otio")])
    assert r.exit_code == 0, r.output


def test_dissolve_from_silent_clip_dissolves_picture_and_cuts_sound(media, tmp_path):
    """A dissolve from a clip without sound into one with sound: the picture dissolves
    (V), the sound comes in as its own AA cut at the same record time."""
    import opentimelineio as otio

    from assetdb.highlights.edl import write_edl
    from assetdb.highlights.reel import Reel

    silent, loud = media("25", audio=False), media("25")
    clips = [clip_of(silent, 0, 20, audio=False), clip_of(loud, 30, 45)]
    clips[0].xfade_out = clips[1].xfade_in = (3, 3)
    text = write_edl(Reel(clips=clips, target_s=1.0, order="chrono"))
    ev = events(text)
    assert [(e[0], e[2], e[3]) for e in ev] == [
        ("001", "V", "C"), ("002", "V", "C"), ("002", "V", "D 006"), ("003", "AA", "C")]
    assert ev[3][4:] == ev[2][4:]  # sound from the same source frames and record time
    back = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=25)
    v = [c for c in back.video_tracks()[0] if isinstance(c, otio.schema.Clip)]
    assert [round(c.source_range.start_time.value) for c in v] == [0, 27]
    a1 = [c for c in back.audio_tracks()[0] if isinstance(c, otio.schema.Clip)]
    assert [round(c.source_range.start_time.value) for c in a1] == [27]
