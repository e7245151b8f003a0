"""OCR text handling without the OCR model: search forms, merging, repeat frames."""

from __future__ import annotations

import numpy as np

from indexer.extractors.ocr import (
    OcrReading,
    is_repeat,
    merge_readings,
    search_text,
    search_tokens,
)


def test_search_tokens_split_and_correct():
    assert search_tokens("InitiateSearchProgram", correct=False) == ["initiate", "search",
                                                                     "program"]
    toks = search_tokens("InitiateSeorchProgram")
    assert "search" in toks and "seorch" in toks  # misread kept, correction added
    assert "password" in search_tokens("EnterPossword")
    assert search_tokens("00:00:05;00") == ["00", "00", "05", "00"]
    assert search_tokens("B/BOARD", correct=False) == ["b", "board"]
    assert search_text("OFFLINE") == "OFFLINE"
    assert search_text("Initiate SearchProg").startswith("Initiate SearchProg [initiate search")


def _r(seg, t, text, conf):
    return OcrReading(seg, int(t * 1000), t, text, conf, (0.1, 0.1, 0.5, 0.2))


def test_merge_keeps_best_full_reading_and_first_time():
    lines = merge_readings([
        _r(1, 4.5, "Initi", 0.98),
        _r(1, 5.5, "Initiote Sea", 0.88),
        _r(1, 7.5, "InitiateSearchProgram", 0.96),
        _r(1, 8.0, "InitiateSeorchProgram", 0.95),
        _r(1, 8.0, "Enter Possword", 0.97),
        _r(0, 1.0, "OFFLINE", 0.95),
        _r(0, 2.0, "OFFLINE", 0.99),
        _r(2, 1.0, "OFFLINE", 0.9),  # another shot: its own line
    ])  # fmt: skip
    by = {(ln.segment_index, ln.text): ln for ln in lines}
    assert set(by) == {(1, "InitiateSearchProgram"), (1, "Enter Possword"), (0, "OFFLINE"),
                       (2, "OFFLINE")}
    ini = by[(1, "InitiateSearchProgram")]
    assert ini.t_s == 4.5 and ini.last_t_s == 8.0 and ini.frames == 4
    assert ini.norm == "initiate search program"
    off = by[(0, "OFFLINE")]
    assert off.confidence == 0.99 and off.t_s == 1.0 and off.frames == 2


def test_merge_keeps_timecodes_apart():
    lines = merge_readings([_r(0, 5.0, "00:00:05;00", 0.96), _r(0, 5.3, "00:00:05;09", 0.97)])
    assert len(lines) == 2


def test_repeat_frames():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 200, (68, 160)).astype(np.int16)
    b = a + rng.integers(-5, 6, a.shape).astype(np.int16)  # compression noise
    assert is_repeat(a, b)
    c = a.copy()
    c[30:34, 40:70] = 255  # a word typed on screen
    assert not is_repeat(a, c)
