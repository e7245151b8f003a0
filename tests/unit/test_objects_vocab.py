"""The object vocabulary, the --object filter and the OCR line merging (no models)."""

from __future__ import annotations

import pytest

from assetdb.errors import QueryError
from assetdb.objects import (
    COCO90,
    LABELS,
    asset_details,
    expand_label,
    objects_text,
    segment_ids_for_objects,
    segment_object_scores,
    shot_visuals,
)


def test_coco90_numbering():
    assert len(LABELS) == 80
    assert COCO90[1] == "person" and COCO90[3] == "car" and COCO90[5] == "airplane"
    assert COCO90[8] == "truck" and COCO90[72] == "tv" and COCO90[90] == "toothbrush"
    assert COCO90[12] is None and COCO90[83] is None


def test_synonyms_plurals_and_categories():
    assert expand_label("car") == {"car"}
    assert expand_label("Cars") == {"car"}
    assert expand_label("automobile") == {"car"}
    assert expand_label("people") == {"person"}
    assert expand_label("plane") == {"airplane"}
    assert expand_label("buses") == {"bus"}
    assert expand_label("cell_phone") == {"cell phone"}
    assert {"car", "truck", "bus", "airplane"} <= expand_label("vehicle")
    assert "truck" not in expand_label("car")  # documented: car does not match truck/bus
    assert expand_label("woman") == {"person"}  # narrower word: filter only


def test_unknown_label_suggests_close_ones():
    with pytest.raises(QueryError) as err:
        expand_label("persn")
    assert "person" in str(err.value)
    with pytest.raises(QueryError):
        expand_label("   ")


def test_objects_text_has_synonyms_and_category_once():
    text = objects_text(["car", "truck", "person"])
    words = text.split()
    assert words.count("vehicle") == 1
    assert "automobile" in words and "people" in words
    assert "bus" not in words
    assert "woman" not in words and "child" not in words


# ``store``: tests/conftest.py's fixture (SQLite, and PostgreSQL when it answers)


def _seed(store) -> list[int]:
    from assetdb.schema import Asset, OcrLine, Segment, SegmentObject

    with store.session() as s:
        a = Asset(path="/x/clip.mp4", kind="video")
        s.add(a)
        s.flush()
        segs = []
        for i in range(3):
            seg = Segment(asset_id=a.id, index=i, kind="shot", time_base_num=1,
                          time_base_den=25, start_ts=i * 100, end_ts=(i + 1) * 100)
            s.add(seg)
            segs.append(seg)
        s.flush()
        rows = [(0, "car", 0.9, 3), (0, "person", 0.6, 1), (1, "truck", 0.8, 1),
                (2, "person", 0.95, 2), (2, "dog", 0.7, 1)]
        for i, label, score, n in rows:
            s.add(SegmentObject(asset_id=a.id, segment_id=segs[i].id, label=label,
                                max_score=score, count=n, frames=1))
        s.add(OcrLine(asset_id=a.id, segment_id=segs[2].id, ts=210, t_s=8.4, last_t_s=9.0,
                      text="SCENE 42", norm="scene 42", confidence=0.97, frames=2,
                      x1=0.1, y1=0.1, x2=0.5, y2=0.2))
        return [a.id, *(x.id for x in segs)]


def test_filter_and_semantics(store):
    aid, s0, s1, s2 = _seed(store)
    with store.session() as s:
        assert segment_ids_for_objects(s, ["car"]) == {s0}
        assert segment_ids_for_objects(s, ["vehicle"]) == {s0, s1}
        assert segment_ids_for_objects(s, ["people"]) == {s0, s2}
        assert segment_ids_for_objects(s, ["person", "dog"]) == {s2}  # repeated: AND
        assert segment_ids_for_objects(s, ["bus"]) == set()
        scores = segment_object_scores(s, ["person", "vehicle"])
        assert scores == {s0: pytest.approx(0.6)}
        with pytest.raises(QueryError, match="did you mean"):
            segment_ids_for_objects(s, ["dgo"])
        shots = shot_visuals(s, aid)
    assert [v.segment_index for v in shots] == [0, 1, 2]
    assert shots[0].objects[0].label == "car" and shots[0].objects[0].count == 3
    assert shots[2].texts[0].text == "SCENE 42" and shots[2].texts[0].t_s == 8.4
    assert shots[2].start_s == pytest.approx(8.0)
    with store.session() as s:
        d = asset_details(s, aid)
    assert d["objects"][0] == {"shot": 0, "label": "car", "count": 3, "frames": 1,
                               "max_score": 0.9}
    assert d["screen_text"] == [{"shot": 2, "t_s": 8.4, "text": "SCENE 42", "confidence": 0.97}]
