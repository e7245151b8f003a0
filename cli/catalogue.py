"""`assetdb status`, `assetdb assets list|show`, `assetdb db upgrade|current`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.app import group, state, store
from cli.output import Section, clock, message, print_json, print_record, print_rows

assets_app = group(help="Inspect catalogued assets.")
db_app = group(help="Database schema (Alembic migrations).")

KINDS = ("video", "image", "audio")
ASSET_COLUMNS = ["id", "kind", "state", "duration_s", "segments", "width", "height", "path",
                 "error"]
DETAIL_FIELDS = ("id", "path", "kind", "state", "error", "container", "duration_s", "frame_rate",
                 "variable_frame_rate", "frame_count", "frame_range", "start_tc", "reel",
                 "width", "height", "rotation", "video_codec", "audio_codec", "created_at", "content_hash")
# sections of `assets show` that are laid out by hand (the rest: one table per list)
OWN_SECTIONS = ("segments", "stages", "audio_streams", "subtitle_streams", "tags", "warnings")


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """What is indexed, what failed, and where."""
    from assetdb.catalogue import status as get_status

    s = get_status(store(ctx))
    if as_json:
        print_json(s)
        return
    a = s["assets"]
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(a["by_kind"].items())) or "none"
    fields: list[tuple[str, Any]] = [
        ("database", s["database"]),
        ("data dir", s["data_dir"]),
        ("schema", f"{s['schema_revision']} (head {s['schema_head']})"),
        ("assets", (f"{a['total']} ({a['indexed']} indexed: {kinds}; {a['failed']} failed; "
                   f"{a['pending']} pending; {a['missing']} missing)")),
        ("media", (f"{clock(s['media_hours'] * 3600)} in {s['segments']} segments, "
                  f"{s['keyframes']} keyframes")),
    ]
    fields += [(f"stage {stage}", f"{c.get('done', 0)} done, {c.get('failed', 0)} failed")
               for stage, c in sorted(s["stages"].items())]
    fields += [(f"vectors {space}", n) for space, n in sorted(s["vectors"].items())]
    print_record(fields)


@assets_app.command("list")
def assets_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option("--kind", help="video|image|audio")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only files that failed.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_csv: Annotated[bool, typer.Option("--csv")] = False,
) -> None:
    """List assets."""
    if kind and kind not in KINDS:
        raise typer.BadParameter("kind must be video, image or audio", param_hint="--kind")
    from assetdb.catalogue import list_assets

    rows = list_assets(store(ctx), kind=kind, failed=failed, limit=limit)
    print_rows(rows, ASSET_COLUMNS, as_json=as_json, as_csv=as_csv, title="assets")


@assets_app.command("show")
def assets_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Asset id, path or unique file name.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One asset with its shots, timecodes, keyframes and everything extracted."""
    from assetdb.catalogue import asset_details

    d = asset_details(store(ctx), ref)
    if as_json:
        print_json(d)
        return
    fields: list[tuple[str, Any]] = [(k, d[k]) for k in DETAIL_FIELDS
                                     if d.get(k) not in (None, "", False)]
    fields += [("warning", w) for w in d.get("warnings") or []]
    fields += [("audio", f"#{a['index']} {a.get('codec')} {a.get('channels')}ch "
                         f"{a.get('sample_rate')} Hz"
                         + ("" if a.get("decodable", True) else " (broken)"))
               for a in d.get("audio_streams") or []]
    sections = [
        Section("stages", ["stage", "version", "state", "seconds", "error"],
                [{"stage": n, **st} for n, st in sorted((d.get("stages") or {}).items())]),
        Section("segments", ["index", "tc_in", "tc_out", "duration_s", "keyframes"], [
            {"index": seg["index"], "tc_in": seg["tc_in"], "tc_out": seg["tc_out"],
             "duration_s": round(seg["end_s"] - seg["start_s"], 3),
             "keyframes": ", ".join(k["tc"] for k in seg["keyframes"])}
            for seg in d["segments"]
        ], {"duration_s": lambda v: f"{v:.2f} s"}),
    ]
    for key, value in d.items():
        if key in OWN_SECTIONS or not (isinstance(value, list) and value
                                       and isinstance(value[0], dict)):
            continue
        columns = list(dict.fromkeys(c for item in value for c in item))
        sections.append(Section(key, columns, value[:200]))
    print_record(fields, sections, context=d)


def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from assetdb.db import current_revision, open_engine, upgrade

    engine = open_engine(state(ctx).settings(), create_dirs=True)
    try:
        before = current_revision(engine)
        upgrade(engine, revision)
        message(f"schema {before or 'empty'} -> {current_revision(engine)}")
    finally:
        engine.dispose()


def db_current(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the schema revision of the database and the code's head."""
    from assetdb.db import current_revision, head_revision, open_engine

    engine = open_engine(state(ctx).settings())
    try:
        cur, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    if as_json:
        print_json({"current": cur, "head": head, "up_to_date": cur == head})
    else:
        print_record([("current", cur or "empty"), ("head", head)])


db_app.command("upgrade")(db_upgrade)
db_app.command("current")(db_current)
