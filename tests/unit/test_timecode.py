from fractions import Fraction

import pytest

from assetdb.timecode import frames_to_smpte, is_drop_frame, seconds_to_smpte

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [(0, "00:00:00;00"), (29, "00:00:00;29"), (30, "00:00:01;00"), (1799, "00:00:59;29"),
     (1800, "00:01:00;02"), (17982, "00:10:00;00"), (107892, "01:00:00;00")],
)
def test_drop_frame_2997(frame: int, expected: str) -> None:
    assert frames_to_smpte(frame, NTSC) == expected


def test_non_drop_rates() -> None:
    assert not is_drop_frame(Fraction(25))
    assert frames_to_smpte(25 * 61 + 3, Fraction(25)) == "00:01:01:03"
    assert frames_to_smpte(24 * 3600, Fraction(24000, 1001)) == "01:00:00:00"


def test_seconds_without_rate() -> None:
    assert seconds_to_smpte(3661.5, None) == "01:01:01.500"
    assert seconds_to_smpte(5.0, NTSC) == "00:00:05;00"


NTSC60 = Fraction(60000, 1001)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [(3597, "00:00:59;57"), (3600, "00:01:00;04"), (35964, "00:10:00;00")],
)
def test_drop_frame_5994(frame: int, expected: str) -> None:
    assert frames_to_smpte(frame, NTSC60) == expected


def test_drop_frame_labels_are_unique_and_increasing() -> None:
    labels = [frames_to_smpte(f, NTSC) for f in range(40000)]
    assert len(set(labels)) == len(labels)
    assert labels == sorted(labels)


def test_negative_frame_is_refused() -> None:
    with pytest.raises(ValueError):
        frames_to_smpte(-1, Fraction(25))


# -- the one rule (assetdb.timecode): frames from timestamps, out exclusive, stills none --

TREE_RATE = Fraction(1000000, 66667)  # tree.avi: 15 fps nominal, only 68 of 444 frames coded


def test_range_is_in_inclusive_out_exclusive():
    from assetdb.timecode import range_timecodes

    # frames 0..49 at 25 fps: the out-point is the first frame after the shot
    assert range_timecodes(0, 2, Fraction(25)) == ("00:00:00:00", "00:00:02:00")
    assert range_timecodes(Fraction(1001, 30000), 1, NTSC) == ("00:00:00;01", "00:00:01;00")
    assert range_timecodes(0, 1.5, None) == ("00:00:00.000", "00:00:01.500")
    assert range_timecodes(0, 0, Fraction(25), "still") == (None, None)


def test_frame_numbers_come_from_timestamps_on_the_nominal_rate():
    from assetdb.timecode import seconds_to_smpte

    # pts 444 on a 66667/1000000 time base is 29.6 s: frame 444 of 15 fps, 29 s + 9 frames
    assert seconds_to_smpte(444 * Fraction(66667, 1000000), TREE_RATE) == "00:00:29:09"
    # drop-frame at 29.97: frame 1800 (60.06 s) is the first of minute 1, labelled ;02
    assert seconds_to_smpte(Fraction(1800 * 1001, 30000), NTSC) == "00:01:00;02"
    assert seconds_to_smpte(Fraction(60), Fraction(24000, 1001)) == "00:00:59:23"  # non-drop


def _tree_and_still(store):
    from assetdb.schema import Asset, Segment

    with store.session() as s:
        tree = Asset(path="/m/video/tree.avi", kind="video", state="indexed",
                     frame_rate_num=TREE_RATE.numerator, frame_rate_den=TREE_RATE.denominator)
        photo = Asset(path="/m/images/obama.jpg", kind="image", state="indexed")
        s.add_all([tree, photo])
        s.flush()
        # decoded-frame indexes (1..68) disagree with the timestamps (11..444): VFR AVI
        s.add(Segment(asset_id=tree.id, index=0, kind="shot", time_base_num=66667,
                      time_base_den=1000000, start_ts=11, end_ts=444, start_frame=1,
                      end_frame=68, rate_num=TREE_RATE.numerator, rate_den=TREE_RATE.denominator))
        s.add(Segment(asset_id=photo.id, index=0, kind="still", time_base_num=1, time_base_den=1,
                      start_ts=0, end_ts=0, start_frame=0, end_frame=1))
        return tree.id, photo.id


def test_search_and_assets_show_give_one_timecode(store):
    """Defect 7: tree.avi showed 00:00:29:xx in `assets show` and 00:00:04:07 in search."""
    from assetdb.catalogue import asset_details
    from assetdb.search import SearchRequest, search

    tree, _ = _tree_and_still(store)
    shown = asset_details(store, tree)["segments"][0]
    (hit,) = search(store, SearchRequest(path="*tree.avi"))
    assert (shown["tc_in"], shown["tc_out"]) == ("00:00:00:11", "00:00:29:09")
    assert (hit.tc_in, hit.tc_out) == (shown["tc_in"], shown["tc_out"])


def test_stills_have_no_timecode_range(store):
    from assetdb.catalogue import asset_details
    from assetdb.search import SearchRequest, search

    _, photo = _tree_and_still(store)
    shown = asset_details(store, photo)["segments"][0]
    (hit,) = search(store, SearchRequest(kind="image"))
    assert (shown["tc_in"], shown["tc_out"]) == (None, None)
    assert (hit.tc_in, hit.tc_out) == (None, None)


def test_source_timecode_round_trips_labels_at_every_rate() -> None:
    from fractions import Fraction

    from assetdb.timecode import frames_to_smpte, range_timecodes, smpte_to_frames

    cases = [("01:00:00:00", Fraction(24000, 1001), 86400, False),
             ("10:00:00:00", Fraction(25), 900000, False),
             ("01:00:00;00", Fraction(30000, 1001), 107892, True),
             ("00:01:00;02", Fraction(30000, 1001), 1800, True),
             ("01:00:00:00", Fraction(30000, 1001), 108000, False),  # 29.97 NDF
             ("00:10:00;00", Fraction(60000, 1001), 35964, True)]
    for label, rate, frames, drop in cases:
        assert smpte_to_frames(label, rate) == (frames, drop), label
        assert frames_to_smpte(frames, rate, drop) == label
    # drop-frame is never used at a rate that has none
    assert smpte_to_frames("01:00:00;00", Fraction(25)) == (90000, False)
    # a shot of 24 frames from a clip starting at 01:00:00:00 (23.976)
    rate = Fraction(24000, 1001)
    assert range_timecodes(0, Fraction(24 * 1001, 24000), rate, start_tc_frames=86400,
                           drop=False) == ("01:00:00:00", "01:00:01:00")
    # 29.97 NDF source: no ';' even though the rate allows it
    assert range_timecodes(0, 1, Fraction(30000, 1001), start_tc_frames=108000,
                           drop=False)[0] == "01:00:00:00"
    for bad in ("1:00:00", "01:00:00:30", "aa:bb:cc:dd", "01:61:00:00"):
        with pytest.raises(ValueError):
            smpte_to_frames(bad, Fraction(30))


def test_highlight_clips_carry_source_timecode() -> None:
    from fractions import Fraction

    from assetdb.highlights import Clip

    rate = Fraction(25)
    clip = Clip(asset_id=1, path="/m/tape.mxf", segment_id=1, segment_index=0, start_frame=50,
                end_frame=75, start_s=Fraction(2), end_s=Fraction(3), rate=rate,
                time_base=Fraction(1, 25), start_pts=50, end_pts=75, variable_rate=False,
                score=0.5, has_audio=True, tc_start=900000, tc_drop=False, tape="TAPE01")
    d = clip.to_dict()
    assert (d["tc_in"], d["tc_out"], d["reel"]) == ("10:00:02:00", "10:00:03:00", "TAPE01")
