"""`assetdb persons ...` and `assetdb faces ...`: thin Typer layers over
``assetdb.persons``. stdout is data (``--json``, TSV when piped, a table on a
terminal); errors are one line on stderr with exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from assetdb.errors import AssetdbError

log = logging.getLogger(__name__)

persons_app = typer.Typer(
    help="People found in the archive: list, name, merge, split.", no_args_is_help=True
)
faces_app = typer.Typer(help="Detected faces: list, move, reject, purge.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contextmanager
def _session(ctx: typer.Context) -> Iterator[tuple[Any, Any]]:
    """(store, session) from the main app's context when it provides one
    (``ctx.obj`` with ``store`` or ``settings``), else from the environment."""
    from assetdb.config import load_settings
    from assetdb.db import Store

    obj = ctx.find_root().obj
    store = None
    settings = None
    if isinstance(obj, dict):
        store, settings = obj.get("store"), obj.get("settings")
    elif obj is not None:
        # cli.main's State: store() and settings() are methods; it owns the store.
        store, settings = getattr(obj, "store", None), getattr(obj, "settings", None)
        store = store() if callable(store) else store
        settings = settings() if callable(settings) else settings
    own = store is None
    if own:
        store = Store.open(settings or load_settings())
    try:
        with store.session() as s:
            yield store, s
    finally:
        if own:
            store.close()


def _run(fn: Callable[[], None]) -> None:
    try:
        fn()
    except AssetdbError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _emit(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    from cli.output import print_rows

    print_rows(rows, columns, as_json=as_json)


def _done(as_json: bool, payload: dict[str, Any], line: str) -> None:
    typer.echo(json.dumps(payload, default=str) if as_json else line)


# --------------------------------------------------------------------------- persons


@persons_app.command("list")
def persons_list(
    ctx: typer.Context,
    named: Annotated[bool, typer.Option("--named", help="Only named persons.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Persons with their face, shot and asset counts and a face thumbnail."""
    from assetdb import persons

    def go() -> None:
        with _session(ctx) as (store, s):
            rows = [
                p.as_dict()
                for p in persons.list_persons(s, store.settings.data_dir, include_unnamed=not named)
            ]
        _emit(rows, ["id", "name", "faces", "shots", "assets", "thumbnail"], as_json)

    _run(go)


@persons_app.command("show")
def persons_show(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="Person id or name.")],
    out: Annotated[Path | None, typer.Option("--out", help="Contact sheet path.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a contact sheet of the person's faces and print its path."""
    from assetdb import persons

    def go() -> None:
        with _session(ctx) as (store, s):
            p = persons.get_person(s, person)
            info = next(i for i in persons.list_persons(s, store.settings.data_dir) if i.id == p.id)
            sheet = persons.contact_sheet(s, p.id, store.settings.data_dir, out)
            faces = [
                f.as_dict()
                for f in persons.list_faces(s, person=p.id, data_dir=store.settings.data_dir)
            ]
        payload = info.as_dict() | {"contact_sheet": str(sheet), "face_list": faces}
        _done(as_json, payload, str(sheet))

    _run(go)


def _name(ctx: typer.Context, person: str, name: str, as_json: bool) -> None:
    from assetdb import persons

    def go() -> None:
        with _session(ctx) as (_, s):
            p = persons.name_person(s, person, name)
            payload = {"id": p.id, "name": p.name}
        _done(as_json, payload, f"#{payload['id']}\t{payload['name']}")

    _run(go)


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
    from assetdb import persons

    def go() -> None:
        with _session(ctx) as (_, s):
            p = persons.merge_persons(s, target, sources)
            payload = {"id": p.id, "name": p.name, "merged": sources}
        _done(as_json, payload, f"#{payload['id']}\t{payload['name'] or ''}")

    _run(go)


@persons_app.command("split")
def persons_split(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="Person id or name.")],
    faces: Annotated[list[int], typer.Argument(help="Face ids that go to a new person.")],
    name: Annotated[str | None, typer.Option("--name", help="Name the new person.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Move some faces of a person into a new person."""
    from assetdb import persons

    def go() -> None:
        with _session(ctx) as (_, s):
            p = persons.split_person(s, person, faces, name)
            payload = {"id": p.id, "name": p.name, "faces": faces}
        _done(as_json, payload, f"#{payload['id']}\t{payload['name'] or ''}")

    _run(go)


@persons_app.command("delete")
def persons_delete(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="Person id or name.")],
    as_json: JsonOpt = False,
) -> None:
    """Delete a person; its faces become unassigned."""
    from assetdb import persons

    def go() -> None:
        with _session(ctx) as (_, s):
            n = persons.delete_person(s, person)
        _done(
            as_json,
            {"deleted": person, "faces_unassigned": n},
            f"deleted {person}; {n} faces unassigned",
        )

    _run(go)


@persons_app.command("recluster")
def persons_recluster(
    ctx: typer.Context,
    eps: Annotated[float, typer.Option(help="Same-person distance (L2).")] = 0.5,
    min_samples: Annotated[int, typer.Option(help="Neighbours for a core face.")] = 1,
    eps_same_asset: Annotated[
        float, typer.Option(help="Same-person distance within one asset.")
    ] = 0.6,
    as_json: JsonOpt = False,
) -> None:
    """Re-cluster all faces, keeping names and every user decision."""
    from dataclasses import asdict

    from assetdb import persons

    def go() -> None:
        with _session(ctx) as (_, s):
            st = persons.recluster(
                s, eps=eps, min_samples=min_samples, eps_same_asset=eps_same_asset
            )
        d = asdict(st)
        _done(as_json, d, " ".join(f"{k}={v}" for k, v in d.items()))

    _run(go)


# --------------------------------------------------------------------------- faces


@faces_app.command("list")
def faces_list(
    ctx: typer.Context,
    person: Annotated[str | None, typer.Option("--person", help="Person id or name.")] = None,
    asset: Annotated[str | None, typer.Option("--asset", help="Asset id or path.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Faces, optionally of one person or one asset."""
    from assetdb import persons

    def go() -> None:
        with _session(ctx) as (store, s):
            rows = [
                f.as_dict()
                for f in persons.list_faces(
                    s, person=person, asset=asset, data_dir=store.settings.data_dir, limit=limit
                )
            ]
        _emit(
            rows,
            ["id", "asset_id", "t_s", "person_id", "person", "assignment", "quality", "path"],
            as_json,
        )

    _run(go)


@faces_app.command("move")
def faces_move(
    ctx: typer.Context,
    face: Annotated[int, typer.Argument(help="Face id.")],
    person: Annotated[str, typer.Argument(help="Person id or name (a new name creates one).")],
    as_json: JsonOpt = False,
) -> None:
    """Assign a face to a person (kept by re-clustering)."""
    from assetdb import persons

    def go() -> None:
        with _session(ctx) as (_, s):
            p = persons.move_face(s, face, person)
            payload = {"face": face, "person_id": p.id, "name": p.name}
        _done(as_json, payload, f"face {face} -> #{payload['person_id']}")

    _run(go)


@faces_app.command("reject")
def faces_reject(
    ctx: typer.Context,
    face: Annotated[int, typer.Argument(help="Face id.")],
    person: Annotated[str, typer.Argument(help="Person id or name it is not.")],
    as_json: JsonOpt = False,
) -> None:
    """Mark a face as not this person (kept by re-clustering)."""
    from assetdb import persons

    def go() -> None:
        with _session(ctx) as (_, s):
            pid = persons.get_person(s, person).id
            persons.reject_face(s, face, pid)
        _done(as_json, {"face": face, "rejected_person_id": pid}, f"face {face} is not #{pid}")

    _run(go)


@faces_app.command("purge")
def faces_purge(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Privacy wipe: delete every face, person, face crop and person text."""
    from assetdb import persons

    if not yes and not typer.confirm("Delete all faces and persons?", err=True):
        raise typer.Exit(1)

    def go() -> None:
        with _session(ctx) as (store, s):
            n = persons.purge_faces(s, store.settings.data_dir)
        _done(as_json, n, f"purged {n['faces']} faces, {n['persons']} persons")

    _run(go)
