"""`assetdb persons ...` and `assetdb faces ...`: thin Typer layers over
``assetdb.faces``. stdout is data (``--json``, TSV when piped, a table on a
terminal); errors are handled by the app (one line, exit 1); usage errors exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.app import given, group, store
from cli.output import print_line, print_rows

persons_app = group(help="People found in the archive: list, name, merge, split.")
faces_app = group(help="Detected faces: list, move, reject, purge.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV.")]


def _done(as_json: bool, payload: dict[str, Any], line: str) -> None:
    print_line(json.dumps(payload, default=str) if as_json else line)


# --------------------------------------------------------------------------- persons


@persons_app.command("list")
def persons_list(
    ctx: typer.Context,
    named: Annotated[bool, typer.Option("--named", help="Only named persons.")] = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Persons with their face, shot and asset counts and a face thumbnail."""
    from assetdb import faces as persons

    st = store(ctx)
    with st.session() as s:
        rows = [
            p.as_dict()
            for p in persons.list_persons(s, st.settings.data_dir, include_unnamed=not named)
        ]
    print_rows(
        rows,
        ["id", "name", "faces", "shots", "assets", "thumbnail"],
        as_json=as_json,
        as_csv=as_csv,
    )


@persons_app.command("show")
def persons_show(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="Person id or name.")],
    out: Annotated[Path | None, typer.Option("--out", help="Contact sheet path.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a contact sheet of the person's faces and print its path."""
    from assetdb import faces as persons

    st = store(ctx)
    with st.session() as s:
        p = persons.get_person(s, person)
        info = next(i for i in persons.list_persons(s, st.settings.data_dir) if i.id == p.id)
        sheet = persons.contact_sheet(s, p.id, st.settings.data_dir, out)
        faces = [
            f.as_dict() for f in persons.list_faces(s, person=p.id, data_dir=st.settings.data_dir)
        ]
    payload = info.as_dict() | {"contact_sheet": str(sheet), "face_list": faces}
    _done(as_json, payload, str(sheet))


def _name(ctx: typer.Context, person: str, name: str, as_json: bool) -> None:
    from assetdb import faces as persons

    with store(ctx).session() as s:
        p = persons.name_person(s, person, name)
        payload = {"id": p.id, "name": p.name}
    _done(as_json, payload, f"#{payload['id']}\t{payload['name']}")


@persons_app.command("name")
def persons_name(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="Person id or name.")],
    name: Annotated[str, typer.Argument(help="The name to give.")],
    as_json: JsonOpt = False,
) -> None:
    """Name a person (it then anchors re-clustering and is searchable)."""
    _name(ctx, person, name, as_json)


@persons_app.command("rename")
def persons_rename(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="Person id or current name.")],
    name: Annotated[str, typer.Argument(help="The new name.")],
    as_json: JsonOpt = False,
) -> None:
    """Rename a person."""
    _name(ctx, person, name, as_json)


@persons_app.command("merge")
def persons_merge(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Person to keep (id or name).")],
    sources: Annotated[list[str], typer.Argument(help="Persons merged into it.")],
    as_json: JsonOpt = False,
) -> None:
    """Merge persons into one."""
    from assetdb import faces as persons

    with store(ctx).session() as s:
        p = persons.merge_persons(s, target, sources)
        payload = {"id": p.id, "name": p.name, "merged": sources}
    _done(as_json, payload, f"#{payload['id']}\t{payload['name'] or ''}")


@persons_app.command("split")
def persons_split(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="Person id or name.")],
    faces: Annotated[list[int], typer.Argument(help="Face ids that go to a new person.")],
    name: Annotated[str | None, typer.Option("--name", help="Name the new person.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Move some faces of a person into a new person."""
    from assetdb import faces as persons

    with store(ctx).session() as s:
        p = persons.split_person(s, person, faces, name)
        payload = {"id": p.id, "name": p.name, "faces": faces}
    _done(as_json, payload, f"#{payload['id']}\t{payload['name'] or ''}")


@persons_app.command("delete")
def persons_delete(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="Person id or name.")],
    as_json: JsonOpt = False,
) -> None:
    """Delete a person; its faces become unassigned."""
    from assetdb import faces as persons

    with store(ctx).session() as s:
        n = persons.delete_person(s, person)
    _done(
        as_json,
        {"deleted": person, "faces_unassigned": n},
        f"deleted {person}; {n} faces unassigned",
    )


@persons_app.command("recluster")
def persons_recluster(
    ctx: typer.Context,
    eps: Annotated[
        float | None, typer.Option(help="Same-person distance (L2)  [default: assetdb's EPS]")
    ] = None,
    min_samples: Annotated[
        int | None,
        typer.Option(min=1, help="Neighbours for a core face  [default: assetdb's MIN_SAMPLES]"),
    ] = None,
    eps_same_asset: Annotated[
        float | None,
        typer.Option(
            help="Same-person distance within one asset  [default: assetdb's EPS_SAME_ASSET]"
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-cluster all faces, keeping names and every user decision."""
    from dataclasses import asdict

    from assetdb import faces as persons

    with store(ctx).session() as s:
        st = persons.recluster(
            s, **given(eps=eps, min_samples=min_samples, eps_same_asset=eps_same_asset)
        )
    d = asdict(st)
    _done(as_json, d, " ".join(f"{k}={v}" for k, v in d.items()))


# --------------------------------------------------------------------------- faces


@faces_app.command("list")
def faces_list(
    ctx: typer.Context,
    person: Annotated[str | None, typer.Option("--person", help="Person id or name.")] = None,
    asset: Annotated[str | None, typer.Option("--asset", help="Asset id or path.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Faces, optionally of one person or one asset."""
    from assetdb import faces as persons

    st = store(ctx)
    with st.session() as s:
        rows = [
            f.as_dict()
            for f in persons.list_faces(
                s, person=person, asset=asset, data_dir=st.settings.data_dir, limit=limit
            )
        ]
    print_rows(
        rows,
        ["id", "asset_id", "t_s", "person_id", "person", "assignment", "quality", "path"],
        as_json=as_json,
        as_csv=as_csv,
    )


@faces_app.command("move")
def faces_move(
    ctx: typer.Context,
    face: Annotated[int, typer.Argument(help="Face id.")],
    person: Annotated[str, typer.Argument(help="Person id or name (a new name creates one).")],
    as_json: JsonOpt = False,
) -> None:
    """Assign a face to a person (kept by re-clustering)."""
    from assetdb import faces as persons

    with store(ctx).session() as s:
        p = persons.move_face(s, face, person)
        payload = {"face": face, "person_id": p.id, "name": p.name}
    _done(as_json, payload, f"face {face} -> #{payload['person_id']}")


@faces_app.command("reject")
def faces_reject(
    ctx: typer.Context,
    face: Annotated[int, typer.Argument(help="Face id.")],
    person: Annotated[str, typer.Argument(help="Person id or name it is not.")],
    as_json: JsonOpt = False,
) -> None:
    """Mark a face as not this person (kept by re-clustering)."""
    from assetdb import faces as persons

    with store(ctx).session() as s:
        pid = persons.get_person(s, person).id
        persons.reject_face(s, face, pid)
    _done(as_json, {"face": face, "rejected_person_id": pid}, f"face {face} is not #{pid}")


@faces_app.command("purge")
def faces_purge(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Privacy wipe: delete every face, person, face crop and person text."""
    from assetdb import faces as persons

    if not yes and not typer.confirm("Delete all faces and persons?", err=True):
        raise typer.Exit(1)

    st = store(ctx)
    with st.session() as s:
        n = persons.purge_faces(s, st.settings.data_dir)
    _done(as_json, n, f"purged {n['faces']} faces, {n['persons']} persons")
