"""Objects and OCR on real media: hand-built shots and keyframes (the catalogue
stage's job in production), the real models, a real SQLite store."""

from __future__ import annotations

import pickle
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from assetdb.db import Store
from assetdb.objects import LABELS
from indexer.work import AssetWork, KeyframeRef, SegmentRef
from indexer.writer import store_result
from tests.conftest import open_store

ROOT = Path(__file__).resolve().parents[2]
SHARED = next(
    (p for p in (ROOT / ".." / "shared" / "data", ROOT / ".." / ".." / "shared" / "data")
     if p.is_dir()),
    ROOT / ".." / "shared" / "data",
)  # fmt: skip
VIDEO = SHARED / "media" / "video"

pytestmark = [pytest.mark.model, pytest.mark.slow]


def _need(module: str) -> None:
    pytest.importorskip(module, reason=f"{module} is not installed")


def make_work(
    asset_id: int, name: str, shots: list[tuple[float, float, list[float]]], out_dir: Path
) -> AssetWork:
    """An AssetWork for ``name`` with the given shots (start s, end s, keyframe times),
    keyframes decoded and stored as JPEGs like the catalogue stage does."""
    import av
    import cv2

    from assetdb.media.frames import frames_at, unique_frames
    from indexer.extractors.frames import FRAME_MAX_PX

    path = VIDEO / name
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        tb, rate = Fraction(st.time_base), Fraction(st.average_rate)
    times = sorted({t for _, _, kts in shots for t in kts})
    frames = [(f.time_s, f.pts, f.rgb)
              for f in unique_frames(frames_at(path, times, max_px=FRAME_MAX_PX))]
    out_dir.mkdir(parents=True, exist_ok=True)
    segs = []
    for i, (a, b, kts) in enumerate(shots):
        seg = SegmentRef(index=i, kind="shot", time_base=tb, start_ts=round(a / tb),
                         end_ts=round(b / tb), rate=rate)
        for want in kts:
            t, pts, rgb = min(frames, key=lambda f: abs(f[0] - want))
            jpg = out_dir / f"{name}_{i}_{pts}.jpg"
            cv2.imwrite(str(jpg), rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
            seg.keyframes.append(KeyframeRef(i, pts, t, round(t * rate), jpg, rgb.shape[1],
                                             rgb.shape[0]))
        segs.append(seg)
    return AssetWork(asset_id=asset_id, path=path, kind="video", data_dir=out_dir,
                     duration_s=shots[-1][1], frame_rate=rate, segments=segs)


def add_asset(store: Store, name: str, shots: list[tuple[float, float, list[float]]],
              tmp: Path) -> AssetWork:
    from assetdb.schema import Asset, Segment

    with store.session() as s:
        a = Asset(path=str(VIDEO / name), kind="video")
        s.add(a)
        s.flush()
        asset_id = a.id
    work = make_work(asset_id, name, shots, tmp / "kf")
    with store.session() as s:
        for seg in work.segments:
            row = Segment(asset_id=asset_id, index=seg.index, kind=seg.kind,
                          time_base_num=seg.time_base.numerator,
                          time_base_den=seg.time_base.denominator, start_ts=seg.start_ts,
                          end_ts=seg.end_ts)
            s.add(row)
            s.flush()
            seg.id = row.id
    return work


def text_matches(text: str, query: str) -> bool:
    """What the full-text search does with a query: every query word is a word of the
    text or (prefix query) the start of one."""
    words = re.findall(r"\w+", text.lower())
    return all(any(w.startswith(q) for w in words) for q in re.findall(r"\w+", query.lower()))


@pytest.fixture(scope="module")
def store(sqlite_module_store):
    """SQLite only (the models dominate); keyframes go under the store's data dir."""
    return sqlite_module_store, sqlite_module_store.settings.data_dir


# clip -> (shots with keyframe times, expected label); times checked by eye on saved frames
DETECT = {
    "vtest.avi": ([(0.0, 79.5, [20.0, 60.0])], "person"),
    "faces.mp4": ([(0.0, 9.6, [4.0])], "person"),
    "chaplin.mp4": ([(0.0, 9.6, [3.0])], "person"),
    "slow_traffic_small.mp4": ([(0.0, 30.5, [8.0, 20.0])], "car"),
    # one 11 s pan: the airliner is large until ~3 s, a dot afterwards. The keyframe
    # at 6 s misses it; the frames sampled every 2 s through the shot find it.
    "video_with_failing_audio.mp4": ([(0.0, 11.2, [6.0])], "airplane"),
}


@pytest.fixture(scope="module")
def detected(store):
    _need("cv2")
    from indexer.extractors.objects import ObjectsExtractor

    st, tmp = store
    keyframes_only = ObjectsExtractor(every_s=0)  # keeps the test short
    works = {}
    for name, (shots, _) in DETECT.items():
        ex = ObjectsExtractor() if name == "video_with_failing_audio.mp4" else keyframes_only
        work = add_asset(st, name, shots, tmp)
        (result,) = ex.run([work])
        result = pickle.loads(pickle.dumps(result))  # results cross worker processes
        store_result(st, work, ex, result)
        works[name] = (work, result)
    return works


@pytest.mark.parametrize("name", list(DETECT))
def test_detector_finds_expected_objects(store, detected, name):
    from assetdb.objects import shot_visuals

    st, _ = store
    work, result = detected[name]
    expected = DETECT[name][1]
    with st.session() as s:
        (shot,) = shot_visuals(s, work.asset_id)
    labels = {o.label: o for o in shot.objects}
    assert expected in labels, f"{name}: {sorted(labels)}"
    assert labels[expected].max_score >= 0.5
    if name == "video_with_failing_audio.mp4":
        kf_only = [f for f in result.frames if f.t_s == work.keyframes[0].time_s]
        assert all(d.label != "airplane" for f in kf_only for d in f.detections)
    if name == "slow_traffic_small.mp4":
        assert labels["car"].count >= 2  # several cars in one frame


def test_object_filter_ranks_traffic_clip_first(store, detected):
    from sqlalchemy import select

    from assetdb.objects import segment_ids_for_objects, segment_object_scores
    from assetdb.schema import Segment, TextEntry

    st, _ = store
    traffic = detected["slow_traffic_small.mp4"][0]
    with st.session() as s:
        ids = segment_ids_for_objects(s, ["car"])
        scores = segment_object_scores(s, ["cars"])
        ranked = sorted(scores, key=lambda k: -scores[k])
        first_asset = s.scalar(select(Segment.asset_id).where(Segment.id == ranked[0]))
        text = s.scalar(select(TextEntry.text).where(
            TextEntry.asset_id == traffic.asset_id, TextEntry.source == "objects"))
        planes = segment_ids_for_objects(s, ["plane"])
    assert traffic.segments[0].id in ids and set(scores) == ids
    assert first_asset == traffic.asset_id
    assert text_matches(text, "car") and text_matches(text, "vehicle")
    assert planes == {detected["video_with_failing_audio.mp4"][0].segments[0].id}


def test_detect_objects_contract():
    _need("cv2")
    from assetdb.media.frames import frames_at
    from assetdb.models.objects import detect_objects
    from indexer.extractors.frames import FRAME_MAX_PX

    rgb = frames_at(VIDEO / "slow_traffic_small.mp4", [8.0], max_px=FRAME_MAX_PX)[8.0].rgb
    out = detect_objects(rgb)
    assert out and all(isinstance(lb, str) and 0.5 <= sc <= 1 for lb, sc, _ in out)
    assert "car" in {lb for lb, _, _ in out}
    assert [sc for _, sc, _ in out] == sorted((sc for _, sc, _ in out), reverse=True)
    x1, y1, x2, y2 = out[0][2]
    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1


# Through the real ingest (catalogue: shots + keyframes, then the extractors).
# GoldenEye excerpt: cuts at 3.754 s and 8.759 s; shot 0 shows the menu bar
# (NATALYA/LUKE OFFLINE, MESSAGE), shot 1 types "Initiate Search Program" then
# "Enter Password", complete only in its last second.
INGESTED = ["goldeneye-vfr-drop3.mp4", "slow_traffic_small.mp4",
            "video_with_failing_audio.mp4", "chaplin.mp4"]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    _need("cv2")
    _need("rapidocr_onnxruntime")
    from indexer.ingest import ingest

    tmp = tmp_path_factory.mktemp("ingest")
    st = open_store(tmp / "data")
    media = tmp / "media"
    media.mkdir()
    for name in INGESTED:
        (media / name).symlink_to((VIDEO / name).resolve())
    (media / "two_people.jpg").symlink_to((SHARED / "media" / "images" / "two_people.jpg").resolve())
    rep = ingest(st, [media], workers=1, extractors=["objects"])
    assert rep.scanned == len(INGESTED) + 1 and not rep.stage_failures, rep
    # OCR on the GoldenEye excerpt only (the others have no text; keeps the test short)
    rep = ingest(st, [media / INGESTED[0]], workers=1, extractors=["objects", "ocr"])
    assert not rep.stage_failures, rep.stage_failures
    yield st, media
    st.close()


def _asset_id(st, path: Path) -> int:
    from sqlalchemy import select

    from assetdb.schema import Asset

    with st.session() as s:
        return s.scalar(select(Asset.id).where(Asset.path.like(f"%{path.name}")))


def test_ingest_object_car_ranks_traffic_clip_first(ingested):
    from sqlalchemy import select

    from assetdb.objects import segment_ids_for_objects, segment_object_scores, shot_visuals
    from assetdb.schema import Segment

    st, media = ingested
    with st.session() as s:
        scores = segment_object_scores(s, ["car"])
        assert set(scores) == segment_ids_for_objects(s, ["car"])
        best = max(scores, key=scores.get)
        assert s.scalar(select(Segment.asset_id).where(Segment.id == best)) == _asset_id(
            st, media / "slow_traffic_small.mp4")
        planes = shot_visuals(s, _asset_id(st, media / "video_with_failing_audio.mp4"))
        people = shot_visuals(s, _asset_id(st, media / "chaplin.mp4"))
        photo = shot_visuals(s, _asset_id(st, media / "two_people.jpg"))
    assert any(o.label == "airplane" for v in planes for o in v.objects)
    assert any(o.label == "person" for v in people for o in v.objects)
    assert [(o.label, o.count) for v in photo for o in v.objects if o.label == "person"] == [
        ("person", 2)
    ]


def _ocr_texts(st, asset_id):
    from sqlalchemy import select

    from assetdb.schema import Segment, TextEntry

    with st.session() as s:
        rows = s.execute(
            select(TextEntry.text, Segment.start_ts, Segment.end_ts, Segment.time_base_num,
                   Segment.time_base_den, TextEntry.start_s)
            .join(Segment, Segment.id == TextEntry.segment_id)
            .where(TextEntry.asset_id == asset_id, TextEntry.source == "ocr")
        ).all()  # fmt: skip
    return [(text, (a * n / d, b * n / d), t) for text, a, b, n, d, t in rows]


@pytest.mark.parametrize(
    ("query", "shot_start_s"),
    [
        ("Initiate Search Program", 3.754),
        ("initiate search prog", 3.754),  # prefix query
        ("password", 3.754),  # read as "Possword"
        ("OFFLINE", 0.0),
        ("MESSAGE", 0.0),
        ("natalya", 0.0),
    ],
)
def test_ocr_goldeneye_words_found_in_right_shot(ingested, query, shot_start_s):
    st, media = ingested
    texts = _ocr_texts(st, _asset_id(st, media / INGESTED[0]))
    hits = [(shot, t) for text, shot, t in texts if text_matches(text, query)]
    assert hits, f"{query!r} not in {texts}"
    (start, end), t = min(hits, key=lambda h: h[1])
    assert start == pytest.approx(shot_start_s, abs=0.05)
    assert start <= t < end  # the timecode of the hit lies in its shot


def test_ocr_goldeneye_lines_merged(ingested):
    from sqlalchemy import select

    from assetdb.objects import shot_visuals
    from assetdb.schema import OcrLine

    st, media = ingested
    asset_id = _asset_id(st, media / INGESTED[0])
    with st.session() as s:
        lines = s.scalars(select(OcrLine).where(OcrLine.asset_id == asset_id)).all()
        shots = shot_visuals(s, asset_id)
    first_shot = min(ln.segment_id for ln in lines)
    texts0 = [ln.text for ln in lines if ln.segment_id == first_shot]
    # two OFFLINE labels on screen, read in several frames each: at most 2 lines
    assert 1 <= sum(t == "OFFLINE" for t in texts0) <= 2
    assert all(ln.confidence >= 0.8 for ln in lines)
    assert any(ln.frames > 1 for ln in lines)
    prompt = [ln for ln in lines if text_matches(ln.norm, "initiate search program")]
    # typed on screen: partial readings merged into one line, first seen before complete
    assert len(prompt) == 1 and prompt[0].t_s < 8.0 and prompt[0].frames >= 2
    assert any(t.text == prompt[0].text for v in shots for t in v.texts)


def test_ocr_reads_burnt_in_timecode(store):
    _need("rapidocr_onnxruntime")
    from indexer.extractors.ocr import OcrExtractor

    st, tmp = store
    ex = OcrExtractor(extra_offsets_s=(), every_s=0)  # the keyframe only
    # 8.32 s: with RapidOCR's angle classifier this frame's timecode read "60:80:00:00"
    # the frame starting at 8.32 s, the one this test has always read (asked as 8.3 s
    # when frames were picked at-or-after; the frame on screen at 8.3 s, 8.28 s, reads
    # the drop-frame ';' as ':')
    work = add_asset(st, "smpte-2997.mp4", [(0.0, 10.0, [8.32])], tmp)
    (result,) = ex.run([work])
    result = pickle.loads(pickle.dumps(result))
    store_result(st, work, ex, result)
    kf = work.keyframes[0]
    n = round(kf.time_s * 30000 / 1001)  # the card counts 29.97 fps frames (no drop < 1 min)
    expected = f"00:00:{n // 30:02d};{n % 30:02d}"
    texts = [(text, t) for text, _, t in _ocr_texts(st, work.asset_id)]
    assert (expected, pytest.approx(kf.time_s)) in [(x, t) for x, t in texts], texts
    assert any(text_matches(x, expected) for x, _ in texts)


def test_torchvision_detector_loads_local_state_dict(tmp_path):
    """The configurable stronger detector: built with weights=None and loaded from a
    local state dict (random weights here: construction and output shape only)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from assetdb.errors import ModelUnavailable
    from assetdb.models.objects import TorchvisionDetector
    from indexer.extractors.objects import ObjectsExtractor

    model = "ssdlite320_mobilenet_v3_large"
    with pytest.raises(ModelUnavailable, match="weights_path"):
        TorchvisionDetector(model)
    rand = TorchvisionDetector(model, allow_random_init=True).load()  # lazy: load() builds it
    weights = tmp_path / "det.pt"
    torch.save(rand.model.state_dict(), weights)
    ex = ObjectsExtractor(detector="torchvision", model=model, weights_path=str(weights),
                          min_score=0.0)
    assert ex.version.startswith(f"torchvision-{model}@") and ex.version != ObjectsExtractor.version
    ex.load()
    rng = np.random.default_rng(0)
    dets = ex.detector.detect(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), 0.0)
    for d in dets:
        assert d.label in LABELS and 0 <= d.box[0] <= d.box[2] <= 1



def test_search_finds_objects_and_screen_text(ingested):
    """Through the search helper's ``search`` (skipped until that branch is merged)."""
    search_mod = pytest.importorskip("assetdb.search", reason="assetdb.search not merged yet")
    st, _ = ingested
    req = search_mod.SearchRequest

    def top(**kw):
        hits = search_mod.search(st, req(**kw))
        assert hits, kw
        return hits[0]

    for kw in ({"objects": ["car"]}, {"query": "car"}, {"query": "automobile"}):
        assert Path(top(**kw).path).name == "slow_traffic_small.mp4", kw
    assert Path(top(query="aircraft").path).name == "video_with_failing_audio.mp4"
    for query, shot_start in (("Initiate Search Program", 3.754), ("initiate search prog*", 3.754),
                              ("password", 3.754), ("OFFLINE", 0.0)):
        hit = top(query=query)
        assert Path(hit.path).name == INGESTED[0], query
        assert hit.start_s == pytest.approx(shot_start, abs=0.05), query
