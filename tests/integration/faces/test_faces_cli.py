"""persons/faces CLI on the labelled photos: naming, merging, splitting,
moving, rejecting, and a re-cluster afterwards that keeps every decision."""

from __future__ import annotations

import json

import pytest
import typer
from conftest import open_store
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

import assetdb.faces as face_store
from assetdb.schema import Asset, Face, FaceRejection, Person, TextEntry
from cli.persons import faces_app, persons_app

pytestmark = [pytest.mark.model, pytest.mark.slow]

app = typer.Typer()
app.add_typer(persons_app, name="persons")
app.add_typer(faces_app, name="faces")


@pytest.fixture()
def cli(labeled_copy, tmp_path):
    root, truth = labeled_copy
    env = {
        "ASSETDB_DATA_DIR": str(root),
        "ASSETDB_DATABASE_URL": f"sqlite:///{root / 'assetdb.sqlite3'}",
        "ASSETDB_CONFIG": str(tmp_path / "none.toml"),
    }
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        r = runner.invoke(app, list(args), env=env)
        assert r.exit_code == code, (args, r.output)
        return r

    def js(*args: str):
        return json.loads(run(*args, "--json").stdout)

    store = open_store(root)
    yield run, js, store, truth
    store.close()


def _person_of(store, identity_path_part: str) -> set[int]:
    with store.session() as s:
        return set(
            s.scalars(
                select(Face.person_id)
                .join(Asset, Asset.id == Face.asset_id)
                .where(Asset.path.contains(identity_path_part))
            )
        )


def _faces_of(store, identity_path_part: str) -> list[int]:
    with store.session() as s:
        return list(
            s.scalars(
                select(Face.id)
                .join(Asset, Asset.id == Face.asset_id)
                .where(Asset.path.contains(identity_path_part))
                .order_by(Face.id)
            )
        )


def test_user_decisions_survive_recluster(cli):
    run, js, store, _truth = cli
    js("persons", "recluster")
    listed = js("persons", "list")
    assert len(listed) == 18 and sum(p["faces"] for p in listed) == 70
    assert all(p["thumbnail"] and Image.open(p["thumbnail"]).size for p in listed)

    (obama,) = _person_of(store, "kn_obama")
    (biden,) = _person_of(store, "kn_biden")
    assert obama != biden
    assert js("persons", "name", str(obama), "Barack Obama")["name"] == "Barack Obama"
    # names are unique and ids are not names
    assert "error:" in run("persons", "name", str(biden), "barack obama", code=1).output
    run("persons", "name", "99999", "Nobody", code=1)
    run("persons", "name", code=2)

    # merge Biden into Obama (a user's decision, right or wrong), then split him out
    merged = js("persons", "merge", "Barack Obama", str(biden))
    assert merged["id"] == obama
    assert _person_of(store, "kn_biden") == {obama}
    js("persons", "recluster")
    assert _person_of(store, "kn_biden") == {obama}  # the merge is kept

    biden_faces = _faces_of(store, "kn_biden")
    split = js("persons", "split", "Barack Obama", *map(str, biden_faces), "--name", "Joe Biden")
    joe = split["id"]
    assert _person_of(store, "kn_biden") == {joe} and _person_of(store, "kn_obama") == {obama}

    # move one of person01's photos to Joe (wrong on purpose) and reject one of person02's
    moved = _faces_of(store, "labeled/person01/")[0]
    js("faces", "move", str(moved), "Joe Biden")
    (p02,) = _person_of(store, "labeled/person02/")
    rejected = _faces_of(store, "labeled/person02/")[0]
    js("faces", "reject", str(rejected), str(p02))
    js("persons", "rename", "Joe Biden", "Joseph Biden")

    stats = js("persons", "recluster")
    # 2 Obama + 2 Biden + the moved face + the faces left in person01 (7) and
    # person02 (7), whom the move and the rejection made curated (anchor) persons
    assert stats["kept_user"] == 19
    with store.session() as s:
        assert s.get(Face, moved).person_id == joe
        assert s.get(Face, rejected).person_id != p02
        assert s.get(FaceRejection, (rejected, p02)) is not None
        for f in biden_faces:
            assert s.get(Face, f).person_id == joe
        assert s.get(Person, joe).name == "Joseph Biden"
    assert _person_of(store, "kn_obama") == {obama}
    # the rest of person01 and person02 are still one person each
    for part, skip in (("labeled/person01/", moved), ("labeled/person02/", rejected)):
        rest = [f for f in _faces_of(store, part) if f != skip]
        with store.session() as s:
            assert len({s.get(Face, f).person_id for f in rest}) == 1

    # listing and search integration
    faces = js("faces", "list", "--person", "Joseph Biden")
    assert {f["id"] for f in faces} == set(biden_faces) | {moved}
    assert all(f["assignment"] == "user" for f in faces)
    named = js("persons", "list", "--named")
    assert {p["name"] for p in named} == {"Barack Obama", "Joseph Biden"}
    with store.session() as s:
        segs = face_store.segment_ids_for_persons(s, ["joseph biden"])
        assert segs == set(s.scalars(select(Face.segment_id).where(Face.person_id == joe)))
        texts = s.scalars(select(TextEntry.text).where(TextEntry.source == "person")).all()
    assert texts.count("Joseph Biden") == 3 and "Joe Biden" not in texts
    assert texts.count("Barack Obama") == 2

    show = js("persons", "show", "Barack Obama")
    assert Image.open(show["contact_sheet"]).size[0] >= 128 and len(show["face_list"]) == 2
    assert run("persons", "show", "Barack Obama").stdout.strip() == show["contact_sheet"]

    deleted = js("persons", "delete", "Barack Obama")
    assert deleted["faces_unassigned"] == 2
    with store.session() as s:
        assert not s.scalars(select(TextEntry).where(TextEntry.text == "Barack Obama")).all()


def test_purge_wipes_faces(cli):
    run, js, store, _ = cli
    # the same commands through the project's root app (its State owns the store)
    from cli.main import app as root_app

    r = CliRunner().invoke(
        root_app,
        [
            "--data-dir",
            str(store.settings.data_dir),
            "--database-url",
            store.settings.database_url,
            "persons",
            "list",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert sum(p["faces"] for p in json.loads(r.stdout)) >= 69
    r = CliRunner().invoke(
        root_app,
        [
            "--data-dir",
            str(store.settings.data_dir),
            "--database-url",
            store.settings.database_url,
            "persons",
            "show",
            "nobody",
        ],
    )
    assert r.exit_code == 1 and "error: no person 'nobody'" in r.output
    crops = store.settings.data_dir / "faces"
    assert any(crops.rglob("*.jpg"))
    run("faces", "purge", code=1)  # asks, and stdin says nothing
    out = js("faces", "purge", "--yes")
    assert out["faces"] == 70
    assert js("faces", "list") == [] and js("persons", "list") == []
    assert not crops.exists()
