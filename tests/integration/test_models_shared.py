"""Query-time code uses the process-wide models: the sentence encoder is loaded
once however many paraphrase queries run (it was loaded afresh by every
``assetdb.sound.similar_speech`` call)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.storework import add_asset

pytestmark = pytest.mark.model


def test_similar_speech_loads_the_encoder_once(sqlite_store, tmp_path: Path, monkeypatch):
    from assetdb.models import base
    from assetdb.models.text import SentenceEncoder
    from assetdb.records import VectorRow, replace_vectors
    from assetdb.sound import similar_speech
    from assetdb.spaces import TRANSCRIPT_SPACE

    base.clear_cache()
    loads = []
    real_load = SentenceEncoder._load

    def counting_load(self: SentenceEncoder) -> None:
        loads.append(self)
        real_load(self)

    monkeypatch.setattr(SentenceEncoder, "_load", counting_load)
    lines = ["the weather is lovely and sunny this afternoon",
             "the engine is broken and needs a mechanic"]
    enc = SentenceEncoder.shared()
    for i, line in enumerate(lines):
        work = add_asset(sqlite_store, tmp_path / f"clip{i}.wav", "audio", [(0.0, 5.0)])
        with sqlite_store.session() as s:
            replace_vectors(s, work.asset_id, TRANSCRIPT_SPACE,
                            [VectorRow(enc.encode([line])[0], 0, 1.0)])
    first = similar_speech(sqlite_store, "what a beautiful warm day", limit=2)
    second = similar_speech(sqlite_store, "my car needs repairing", limit=2)
    assert len(loads) == 1 and loads[0] is enc
    assert first[0][0] != second[0][0]  # each query finds its own line first
    base.clear_cache()
