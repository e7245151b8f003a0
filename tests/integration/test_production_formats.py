"""Production formats end to end: ProRes MOV and DNxHD MXF with a start timecode, DPX
and OpenEXR frame sequences (header timecode, a gap), all generated here with PyAV.
Catalogue facts, source timecode in ``assets show`` and in search hits, incremental
ingest of a sequence. Runs once per database backend."""

from __future__ import annotations

import os
import time
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import select

from assetdb.catalogue import asset_details
from assetdb.schema import Asset
from assetdb.search import SearchRequest, search
from indexer.ingest import ingest
from tests import prodmedia as pm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prod")
    pm.prores_mov(root / "interview prores.mov", audio_tracks=2)
    pm.dnxhd_mxf(root / "tape dnxhd.mxf", audio_tracks=2, channels=1)
    pm.prores_mov(root / "ntsc df.mov", fps=Fraction(30000, 1001), frames=30,
                  timecode="00:00:59;28", reel=None)
    pm.make_clip(root / "xdcam.mxf", "mpeg2video", fps=Fraction(25), frames=25,
                 timecode="09:59:50:00", reel="XD01", pix_fmt="yuv422p", size=(1920, 1080),
                 fmt="mxf", bit_rate=50_000_000, audio_tracks=4, channels=1)
    pm.dpx_sequence(root / "scan")
    pm.exr_sequence(root / "comp")
    return root


@pytest.fixture(scope="module")
def ingested(module_store, library: Path):
    report = ingest(module_store, [library], workers=1, extractors=[])
    assert report.failed == [], report.failed
    return report


def _asset(store, name: str) -> dict:
    return asset_details(store, name)


def test_prores_mov_catalogue_and_source_timecode(module_store, ingested) -> None:
    d = _asset(module_store, "interview prores.mov")
    assert d["kind"] == "video" and d["video_codec"] == "prores"
    assert Fraction(d["frame_rate"]) == Fraction(24000, 1001)
    assert d["frame_count"] == 24
    assert d["start_tc"] == "01:00:00:00" and d["reel"] == "A001"
    assert len(d["audio_streams"]) == 2
    segs = d["segments"]
    assert segs[0]["tc_in"] == "01:00:00:00"
    assert segs[-1]["tc_out"] == "01:00:01:00"  # 24 frames later, out exclusive
    assert segs[0]["keyframes"][0]["tc"].startswith("01:00:00:")


def test_dnxhd_mxf_catalogue_and_source_timecode(module_store, ingested) -> None:
    d = _asset(module_store, "tape dnxhd.mxf")
    assert d["container"] == "mxf" and d["video_codec"] == "dnxhd"
    assert (d["width"], d["height"]) == (1920, 1080)
    assert Fraction(d["frame_rate"]) == 25 and d["frame_count"] == 25
    assert d["start_tc"] == "10:00:00:00" and d["reel"] == "TAPE01"
    assert [s["channels"] for s in d["audio_streams"]] == [1, 1]
    assert d["segments"][0]["tc_in"] == "10:00:00:00"
    assert d["segments"][-1]["tc_out"] == "10:00:01:00"


def test_drop_frame_source_crosses_the_minute(module_store, ingested) -> None:
    d = _asset(module_store, "ntsc df.mov")
    assert d["start_tc"] == "00:00:59;28"
    segs = d["segments"]
    assert segs[0]["tc_in"] == "00:00:59;28"
    assert segs[-1]["tc_out"] == "00:01:01;00"  # 30 frames later, ;00 and ;01 skipped
    assert [s["tc_in"] for s in segs][1:] == ["00:01:00;15"]  # the cut at frame 15


def test_xdcam_mpeg2_mxf_with_four_tracks(module_store, ingested) -> None:
    d = _asset(module_store, "xdcam.mxf")
    assert d["video_codec"] == "mpeg2video" and d["container"] == "mxf"
    assert d["start_tc"] == "09:59:50:00" and d["reel"] == "XD01"
    assert [(s["channels"], s["sample_rate"]) for s in d["audio_streams"]] == [(1, 48000)] * 4
    assert d["segments"][-1]["tc_out"] == "09:59:51:00"


def test_dpx_sequence_is_one_clip(module_store, ingested, library: Path) -> None:
    with module_store.session() as s:
        paths = s.execute(select(Asset.path)).scalars().all()
    assert not any(p.endswith(".1001.dpx") for p in paths)  # not 48 stills
    d = _asset(module_store, str(library / "scan" / "plate.%04d.dpx"))
    assert d["kind"] == "video" and d["container"] == "dpx sequence"
    assert d["frame_count"] == 48 and Fraction(d["frame_rate"]) == 24
    assert d["tags"]["sequence_first_frame"] == "1001"
    assert d["tags"]["sequence_last_frame"] == "1048" and d["frame_range"] == "1001-1048"
    assert d["tags"]["sequence_rate_source"] == "header"
    assert d["start_tc"] == "01:02:03:04" and d["reel"] == "R042"
    assert d["warnings"] == []
    segs = d["segments"]
    assert len(segs) == 2  # the generated cut at frame 24
    assert segs[0]["tc_in"] == "01:02:03:04"
    assert segs[1]["tc_in"] == "01:02:04:04"  # frame 1025 = start + 24 frames at 24 fps
    assert segs[-1]["tc_out"] == "01:02:05:04"
    assert all(s["keyframes"] for s in segs)


def test_exr_sequence_with_a_gap(module_store, ingested, library: Path) -> None:
    d = _asset(module_store, "shot_v003_%04d.exr")
    assert d["container"] == "exr sequence"
    assert d["frame_count"] == 12 and Fraction(d["frame_rate"]) == 25
    assert d["tags"]["sequence_frames_on_disk"] == "10"
    assert any("missing frame(s) (1005-1006)" in w for w in d["warnings"])
    assert d["start_tc"] == "00:59:58:00" and d["reel"] == "B007"
    assert d["segments"][-1]["tc_out"] == "00:59:58:12"
    # tone-mapped for display: the first shot's red (200, 30, 30) comes back near 200,
    # not the dark linear value (0.58) an untransformed decode would give
    from assetdb.media.images import load_rgb

    kf = load_rgb(d["segments"][0]["keyframes"][0]["path"])
    assert 170 < int(kf[..., 0].mean()) < 230, kf[..., 0].mean()


def test_search_hit_in_point_is_source_timecode(module_store, ingested) -> None:
    hits = search(module_store, SearchRequest(query="interview", limit=5))
    assert hits and Path(hits[0].path).name == "interview prores.mov"
    assert hits[0].tc_in == "01:00:00:00"
    hits = search(module_store, SearchRequest(query="plate", limit=5))
    assert hits and hits[0].path.endswith("plate.%04d.dpx")
    assert hits[0].tc_in.startswith("01:02:0")


def test_sequence_incremental_ingest(store, tmp_path: Path) -> None:
    folder = pm.dpx_sequence(tmp_path / "seq", frames=6, size=(32, 24))
    r1 = ingest(store, [folder], workers=1, extractors=[])
    assert (r1.new, r1.failed) == (1, [])
    r2 = ingest(store, [folder], workers=1, extractors=[])
    assert (r2.new, r2.changed, r2.unchanged) == (0, 0, 1)
    # one frame re-rendered: the clip is catalogued again
    frame = folder / "plate.1003.dpx"
    data = bytearray(frame.read_bytes())
    data[-100:] = bytes(100)
    frame.write_bytes(bytes(data))
    os.utime(frame, ns=(time.time_ns(), time.time_ns() + 10**9))
    r3 = ingest(store, [folder], workers=1, extractors=[])
    assert r3.changed == 1 and r3.failed == []
    # a frame added: the range grows
    (folder / "plate.1007.dpx").write_bytes((folder / "plate.1006.dpx").read_bytes())
    r4 = ingest(store, [folder], workers=1, extractors=[])
    assert r4.changed == 1
    d = asset_details(store, str(folder / "plate.%04d.dpx"))
    assert d["frame_count"] == 7 and d["tags"]["sequence_last_frame"] == "1007"
    # all frames gone: the clip is missing, not an error
    for f in folder.glob("*.dpx"):
        f.unlink()
    r5 = ingest(store, [folder], workers=1, extractors=[])
    assert r5.missing == [str(folder / "plate.%04d.dpx")]


@pytest.fixture(scope="module")
def stills_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("stills")
    expected = pm.stills(folder)
    (folder / "broken.nef").write_bytes(b"II*\x00" + bytes(200))  # a TIFF header and nothing
    (folder / "notes.arw").write_bytes(b"not a raw file at all\n" * 10)
    return folder, expected


def test_every_still_format_is_catalogued(module_store, stills_dir) -> None:
    folder, expected = stills_dir
    report = ingest(module_store, [folder], workers=1, extractors=[])
    failed = {Path(f["path"]).name: f["error"] for f in report.failed}
    assert set(failed) == {"broken.nef", "notes.arw"}, failed
    assert all("camera RAW" in e and "not RAW" in e for e in failed.values()), failed
    from assetdb.media.images import load_rgb

    for name, (w, h) in expected.items():
        d = _asset(module_store, str(folder / name))
        assert d["state"] == "indexed" and d["kind"] == "image", (name, d["error"])
        assert (d["width"], d["height"]) == (w, h), name
        seg = d["segments"][0]
        assert seg["tc_in"] is None and d["start_tc"] is None
        rgb = load_rgb(seg["keyframes"][0]["path"]).astype(float)
        r, g = rgb[..., 0].mean(), rgb[..., 1].mean()
        if name in ("grey.pgm", "mono.pbm", "grey16.tif"):
            assert abs(r - g) < 2, name  # grey stays grey
        else:
            assert r > g + 60, (name, r, g)  # the red field survived the decode
    for name in ("anim.gif", "anim.webp"):
        assert _asset(module_store, str(folder / name))["tags"]["animation_frames"] == "4"
    d = _asset(module_store, str(folder / "phone-no-extension"))
    assert d["container"] == "heif"  # decided by content
    with module_store.session() as s:
        bad = s.execute(select(Asset).where(Asset.path == str(folder / "broken.nef"))).scalar_one()
        assert bad.state == "failed" and "not RAW" in bad.error


def test_mxf_op_atom_clip_is_joined(store, tmp_path: Path) -> None:
    from assetdb.media.audio import decode_audio

    picture, a1, a2 = pm.op_atom_clip(tmp_path / "Avid MediaFiles")
    report = ingest(store, [tmp_path], workers=1, extractors=[])
    assert (report.new, report.failed) == (1, [])  # one clip, not three assets
    d = asset_details(store, picture.name)
    assert d["kind"] == "video" and d["start_tc"] == "10:00:00:00"
    assert d["reel"] == "CLIP07"  # the material package name stands in for a reel
    assert [Path(s["file"]).name for s in d["audio_streams"]] == [a1.name, a2.name]
    audio = decode_audio(picture)
    assert audio.status == "ok" and abs(len(audio.samples) / 16000 - 1.0) < 0.05
    spectrum = abs(__import__("numpy").fft.rfft(audio.samples))
    assert abs(spectrum.argmax() * 16000 / len(audio.samples) - 440) < 5  # A1's tone


def test_sequence_frame_grid_and_audio(library: Path) -> None:
    """What highlights and rendering read of a sequence: its frame grid, and no audio
    (a status, not an error)."""
    from assetdb.media.audio import decode_audio
    from assetdb.media.grid import frame_grid

    seq = library / "comp" / "shot_v003_%04d.exr"
    g = frame_grid(seq)
    assert (g.n, g.rate, g.variable) == (12, 25, False)  # the gap's frames are held
    assert decode_audio(seq).status == "no_audio"


def test_selects_edl_uses_the_catalogued_source_timecode(module_store, ingested, tmp_path) -> None:
    """The start timecode and reel read from the MXF header reach the EDL an editor
    conforms by (through the stored row, not a test-made clip)."""
    import opentimelineio as otio

    from assetdb.highlights.selects import export_hits

    hits = search(module_store, SearchRequest(path="*tape dnxhd.mxf", kind="video", limit=5))
    assert hits, "the MXF has no shots"
    out = tmp_path / "selects.edl"
    export_hits(module_store, hits[:1], out)
    text = out.read_text()
    event = next(line for line in text.splitlines() if line[:3].isdigit())
    assert event.split()[1] == "TAPE01"
    assert event.split()[4] == "10:00:00:00"  # source in = the tape's start timecode
    assert "FCM: NON-DROP FRAME" in text
    tl = otio.adapters.read_from_string(text, "cmx_3600", rate=25)
    clip = tl.video_tracks()[0][0]
    assert clip.source_range.start_time.to_timecode(25) == "10:00:00:00"
