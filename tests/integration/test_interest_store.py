"""The interest tables: migration up/down on SQLite and PostgreSQL, the extractor on a
broken audio track, the scorer with any subset of other features, the learned model."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, delete, inspect, text

from tests.storework import ingest_one

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _shared_data() -> Path:
    from tests.conftest import require_shared_data

    return require_shared_data()


VIDEO = _shared_data() / "media" / "video"


def _up_down(url: str) -> None:
    from assetdb.db import make_engine, upgrade

    eng = make_engine(url)
    upgrade(eng)
    tables = set(inspect(eng).get_table_names())
    assert {"interest_curves", "interest_shots"} <= tables
    upgrade_to = "0005"
    from alembic import command
    from assetdb.db import _alembic_config

    command.downgrade(_alembic_config(eng), upgrade_to)
    assert "interest_curves" not in set(inspect(eng).get_table_names())
    upgrade(eng)
    eng.dispose()


def test_migration_sqlite(tmp_path):
    _up_down(f"sqlite:///{tmp_path}/m.db")


@pytest.mark.postgres
def test_migration_postgres():
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        admin.connect().close()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"assetdb_highlights_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _up_down(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_broken_audio_track_does_not_fail_the_stage():
    from indexer.extractors.interest import compute_interest
    from indexer.work import AssetWork

    path = VIDEO / "video_with_failing_audio.mp4"
    r = compute_interest(
        AssetWork(asset_id=1, path=path, kind="video", data_dir=Path("."), duration_s=11.2)
    )
    assert r.audio_state in ("ok", "failed")
    if r.audio_state == "failed":
        assert r.audio_error
        assert all(v is None for v in r.signals["loudness_lufs"])
    assert len(r.signals["motion"]) >= 11
    assert all(v is not None for v in r.signals["sharpness"])


@pytest.fixture(scope="module")
def store(module_store, db_backend):
    """Two real clips ingested once per database backend (conftest's module_store)."""
    ids = {
        n: ingest_one(module_store, VIDEO / n)
        for n in ("issue-195-aspect-ratio.mp4", "big_buck_bunny_0_30.webm")
    }
    return module_store, ids, db_backend


def test_scorer_uses_any_subset_of_features(store):
    from sqlalchemy import select

    from assetdb.highlights import load_asset, score_asset
    from assetdb.records import TextRow, VectorRow, replace_texts, replace_vectors
    from assetdb.schema import Segment

    st, ids, _ = store
    aid = ids["issue-195-aspect-ratio.mp4"]
    with st.session() as s:
        base = score_asset(s, load_asset(s, aid))
    assert base.features == []
    assert all(
        sh.components["faces"] is None and sh.components["speech"] is None for sh in base.shots
    )
    e = base.shots[1].explain()
    assert set(e["weights"]) == {"motion", "change", "novelty", "loudness", "onset"}
    # formula check: score = gate * base * length with base the weighted mean
    w = e["weights"]
    b = sum(w[k] * e["components"][k] for k in w) / sum(w.values())
    assert abs(e["base"] - b) < 1e-3
    assert abs(e["score"] - e["gate"]["gate"] * e["base"] * e["length"]) < 1e-3

    with st.session() as s:
        segs = (
            s.execute(select(Segment).where(Segment.asset_id == aid).order_by(Segment.index))
            .scalars()
            .all()
        )
        s1 = segs[1]
        # speech over shot 1, objects in shot 1, a faces table (another feature's) with a big face
        replace_texts(s, aid, "transcript", [TextRow("hello there", 1, s1.start_s, s1.end_s)])
        replace_texts(s, aid, "objects", [TextRow("person chair cup", 1)])
        from assetdb.schema.faces import Face

        for h in (600, 200):  # face heights as fractions 0.6 and 0.2 of a 1000 px frame
            s.add(Face(asset_id=aid, segment_id=s1.id, frame_height=1000, box_h=h,
                       embedding=bytes(4 * 128)))
        rng = np.random.default_rng(0)
        replace_vectors(
            s,
            aid,
            "concepts:effnet-lite3+minilm-l6@1",
            [VectorRow(rng.normal(size=16), g.index, g.start_s) for g in segs],
        )
    try:
        with st.session() as s:
            full = score_asset(s, load_asset(s, aid))
        assert set(full.features) >= {
            "speech",
            "objects",
            "faces",
            "concepts:effnet-lite3+minilm-l6@1",
        }
        sh = full.shots[1]
        assert sh.components["speech"] > 0.95
        assert sh.components["objects"] == pytest.approx(0.6)
        assert sh.components["faces"] == pytest.approx(0.5 * 2 / 3 + 0.5 * 0.6)
        assert sh.signature_kind.startswith("concepts:")
        assert full.shots[0].components["speech"] == pytest.approx(0.0, abs=1e-6)
        assert sh.score > base.shots[1].score  # speech, faces and objects make it more interesting
    finally:
        with st.session() as s:
            from assetdb.schema.faces import Face

            s.execute(delete(Face).where(Face.asset_id == aid))
            replace_texts(s, aid, "transcript", [])
            replace_texts(s, aid, "objects", [])
            replace_vectors(s, aid, "concepts:effnet-lite3+minilm-l6@1", [])


@pytest.mark.slow
def test_learned_model_beats_random(store, tmp_path):
    """Labels written here: 1-s windows whose motion + loudness (measured independently
    from the decoded frames and samples, z-scored and summed) is above the median are
    'interesting'. The LSTM must rank the held-out windows well above chance (MAP >
    positive rate)."""
    import av
    from typer.testing import CliRunner

    st, ids, backend = store
    if backend != "sqlite":
        pytest.skip("the model reads features only; one backend is enough (runs on sqlite)")
    rows = []
    for name, aid in ids.items():
        with av.open(str(VIDEO / name)) as c:
            prev, diffs = None, []
            for fr in c.decode(video=0):
                g = fr.reformat(width=64, height=36, format="gray").to_ndarray().astype(np.float32)
                if prev is not None:
                    diffs.append((float(fr.time), float(np.abs(g - prev).mean())))
                prev = g
        with av.open(str(VIDEO / name)) as c:
            au = [
                (float(fr.time), float(np.sqrt((fr.to_ndarray().astype(np.float32) ** 2).mean())))
                for fr in c.decode(audio=0)
            ]
        t, m = np.array([d[0] for d in diffs]), np.array([d[1] for d in diffs])
        ta, ra = np.array([d[0] for d in au]), np.array([d[1] for d in au])
        for k in range(int(t.max())):
            sel, sa = (t >= k) & (t < k + 1), (ta >= k) & (ta < k + 1)
            loud = float(20 * np.log10(ra[sa].mean() + 1e-6))
            rows.append((str(aid), k, k + 1, float(m[sel].mean()), loud))
    mo, ld = np.array([r[3] for r in rows]), np.array([r[4] for r in rows])
    z = (mo - mo.mean()) / mo.std() + (ld - ld.mean()) / ld.std()
    thr = np.median(z)
    csv_path = tmp_path / "labels.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["asset", "start", "end", "label"])
        for (aid, a, b, _, _), v in zip(rows, z, strict=True):
            w.writerow([aid, a, b, int(v > thr)])

    from cli.main import app

    root = ["--data-dir", str(st.settings.data_dir), "--database-url", st.settings.database_url]
    r = CliRunner().invoke(app, [*root, "interest", "train", str(csv_path), "--json"])
    assert r.exit_code == 0, r.output
    import json

    rep = json.loads(r.stdout)
    assert rep["n_test"] >= 12
    assert Path(rep["model_path"]).is_file() and "interest-lstm-v2-" in rep["model_path"]
    print("learned model:", rep)
    assert rep["map_test"] > rep["random_baseline"] + 0.15, rep
    r = CliRunner().invoke(
        app, [*root, "interest", "score", str(ids["big_buck_bunny_0_30.webm"]), "--json"]
    )
    assert r.exit_code == 0, r.output
    shots = json.loads(r.stdout)["shots"]
    assert shots and all(0.0 <= s["score"] <= 1.0 for s in shots)


def _with_garbage_audio(src: Path, dst: Path, seconds: float = 6.0) -> Path:
    """Remux ``src`` with its audio packets' payloads replaced by noise bytes: a real
    file whose audio track fails to decode (the video stays intact)."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        vi, ai = i.streams.video[0], i.streams.audio[0]
        vo, ao = o.add_stream_from_template(vi), o.add_stream_from_template(ai)
        for p in i.demux(vi, ai):
            if p.dts is None or float(p.dts * p.time_base) > seconds:
                continue
            if p.stream is ai:
                q = av.Packet(rng.integers(0, 256, p.size, dtype=np.uint8).tobytes())
                q.pts, q.dts, q.time_base, q.stream = p.pts, p.dts, p.time_base, ao
                o.mux(q)
            else:
                p.stream = vo
                o.mux(p)
    return dst


def test_undecodable_audio_is_recorded_not_fatal(tmp_path):
    from indexer.extractors.interest import compute_interest
    from indexer.work import AssetWork

    path = _with_garbage_audio(VIDEO / "issue-195-aspect-ratio.mp4", tmp_path / "broken.mkv")
    r = compute_interest(
        AssetWork(asset_id=1, path=path, kind="video", data_dir=tmp_path, duration_s=6.0)
    )
    assert r.audio_state == "failed" and "InvalidData" in (r.audio_error or "")
    assert all(v is None for v in r.signals["loudness_lufs"])
    assert len(r.signals["motion"]) >= 5 and all(v is not None for v in r.signals["motion"])
