"""Fast checks of the sound helpers that need no media and no model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assetdb.errors import QueryError
from assetdb.models.sound_features import DIM, normalise
from assetdb.models.vad import FRAME_S, per_second, speech_stretches
from assetdb.sound import format_transcript
from indexer.extractors.transcribe import TimeMap


def test_time_map_puts_joined_speech_back_on_the_timeline():
    tm = TimeMap([(2.0, 4.0), (10.0, 11.5)])
    assert tm.total == pytest.approx(3.5)
    assert tm(0.0) == pytest.approx(2.0)
    assert tm(1.5) == pytest.approx(3.5)
    assert tm(2.0) == pytest.approx(10.0)  # a start on the join belongs to the next stretch
    assert tm(2.0, is_end=True) == pytest.approx(4.0)  # an end on the join to the one before
    assert tm(3.0) == pytest.approx(11.0)
    assert tm(9.0) == pytest.approx(11.5)  # clipped to the last stretch


def test_speech_stretches_pad_merge_and_drop_blips():
    probs = np.zeros(int(20 / FRAME_S), np.float32)

    def mark(a, b):
        probs[int(a / FRAME_S) : int(b / FRAME_S)] = 0.9

    mark(1.0, 3.0)
    mark(3.5, 5.0)  # 0.5 s gap: merged with the first
    mark(9.0, 9.1)  # 0.1 s blip: dropped
    mark(12.0, 14.0)
    got = speech_stretches(probs, 20.0, pad_s=0.3, merge_gap_s=1.0)
    assert [(round(s.start_s, 1), round(s.end_s, 1)) for s in got] == [(0.7, 5.3), (11.7, 14.3)]
    assert speech_stretches(np.zeros(100, np.float32), 3.2) == []


def test_per_second_curve_has_one_value_per_started_second():
    probs = np.r_[np.ones(int(1 / FRAME_S)), np.zeros(int(1.5 / FRAME_S))].astype(np.float32)
    curve = per_second(probs, 2.5)
    assert len(curve) == 3
    assert curve[0] > 0.9 and curve[1] < 0.1


def test_subtitle_formats():
    rows = [(0.0, 1.5, "ask not"), (3661.25, 3662.0, "what your country --> can do")]
    srt = format_transcript(rows, "srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,500\nask not\n\n2\n01:01:01,250 --> ")
    assert "-->" not in srt.split("\n")[6]  # cue text cannot contain the arrow
    vtt = format_transcript(rows, "vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nask not\n")
    assert json.loads(format_transcript(rows, "json"))[1]["start_s"] == 3661.25
    assert format_transcript(rows, "txt").splitlines()[0] == "ask not"
    with pytest.raises(QueryError):
        format_transcript(rows, "docx")


def test_audio_vector_is_unit_length_and_ignores_level():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=DIM).astype(np.float32)
    v = normalise(raw)
    assert v.shape == (DIM,) and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)
    louder = raw.copy()
    louder[0] += 40.0  # c0 is the frame energy: level alone must not move the vector
    assert np.allclose(normalise(louder), v, atol=1e-6)


def test_onset_count_picks_isolated_peaks() -> None:
    # librosa's peak_pick rule in numpy: clicks every 0.5 s over a low floor are onsets,
    # a flat envelope has none
    import numpy as np

    from assetdb.models.sound_features import HOP, _onset_count

    sr = 16000
    frames_per_s = sr / HOP
    env = np.full(int(5 * frames_per_s), 0.05)
    clicks = (np.arange(10) * 0.5 * frames_per_s).astype(int) + 3
    env[clicks] = 1.0
    assert _onset_count(env, sr) == 10
    assert _onset_count(np.full(100, 0.3), sr) == 0
