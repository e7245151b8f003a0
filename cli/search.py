"""`assetdb search` and `assetdb index status|rebuild`.

JSON output (``--json``, stable): a list of hits, best first, each
``{"asset_id", "path", "kind", "segment_id", "segment_index", "start_s", "end_s",
"tc_in", "tc_out", "score", "other_shots", "weak", "thumbnail", "snippet", "sources": {name:
{"rank", "score", "contribution", "relevance"}}}``: ``score`` is the fused relevance in
[0, 1], ``other_shots`` the file's other matching shots (null with ``--all-shots``),
``weak`` true for the nearest hits below the cutoff, listed (best few, after "no good
match; nearest weak matches:" on stderr) only when no hit reaches it;
source names: visual, like, text, transcript, sound, sound_events,
filter. ``--csv`` and piped TSV carry the same fields, ``sources`` flattened to
``<name>_rank``/``<name>_score``/``<name>_relevance`` columns.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from assetdb.errors import QueryError
from cli.app import given, group, resolve_device, state, store
from cli.output import message, print_json, print_line, print_record, print_rows

FIELDS = ["score", "path", "kind", "asset_id", "segment_id", "segment_index", "start_s", "end_s",
          "tc_in", "tc_out", "other_shots", "weak", "thumbnail", "snippet"]
SOURCES = ["visual", "like", "text", "transcript", "sound", "sound_events"]
TABLE = ["#", "score", "path", "in", "out", "kind", "seg", "more"]

index_app = group(help="Vector index: status and rebuild (switch model).")


def _row(hit: dict[str, Any]) -> dict[str, Any]:
    row = {f: hit.get(f) for f in FIELDS}
    for name in SOURCES:
        src = hit["sources"].get(name)
        row[f"{name}_rank"] = src["rank"] if src else None
        row[f"{name}_score"] = round(src["score"], 4) if src else None
        row[f"{name}_relevance"] = src.get("relevance") if src else None
    return row


def _why(n: str, s: dict[str, Any]) -> str:
    if s.get("relevance") is not None:  # calibrated: raw score -> relevance (weighted)
        return f"{n}#{s['rank']} {s['score']:.3f}->{s['relevance']:.2f}"
    return f"{n}#{s['rank']}({s['score']:.3f})+{s['contribution']:.4f}"


def _table_row(i: int, h: dict[str, Any]) -> dict[str, Any]:
    why = " ".join(_why(n, s) for n, s in h["sources"].items())
    more = h.get("other_shots")
    return {"#": i, "score": f"{h['score']:.3f}", "path": h["path"], "in": h["tc_in"],
            "out": h["tc_out"], "kind": h["kind"], "seg": h["segment_id"],
            "more": f"+{more} shots" if more else "", "why": why,
            "snippet": h.get("snippet") or ""}


def _emit(hits: list[dict[str, Any]], as_json: bool, as_csv: bool, explain: bool,
          ranked: bool = False, cutoff: float | None = None) -> None:
    from cli.output import is_terminal

    if hits and hits[0].get("weak"):  # nothing reached the cutoff: the nearest, marked
        message("no good match; nearest weak matches:")
    if as_json:
        print_json(hits)
    elif as_csv or not is_terminal():
        cols = FIELDS + [f"{n}_{x}" for n in SOURCES for x in ("rank", "score", "relevance")]
        print_rows([_row(h) for h in hits], cols, as_csv=as_csv)
    elif hits:
        cols = TABLE + (["why"] if explain else []) + ["snippet"]
        print_rows([_table_row(i, h) for i, h in enumerate(hits, 1)], cols)
    if not hits and ranked and cutoff != 0:  # weak matches turned off
        from assetdb.search.fusion import DEFAULT_CUTOFF

        c = DEFAULT_CUTOFF if cutoff is None else cutoff
        message(f"no good match: nothing scored a relevance of {c:g} or more "
                "(a lower --cutoff shows weaker hits)")
    elif not hits:
        message("no matches")


def _via_server(ctx: typer.Context, fields: dict[str, Any]) -> list[dict[str, Any]] | None:
    from types import SimpleNamespace

    from cli.web.client import search_via_server

    obj = ctx.find_root().obj
    settings = getattr(obj, "settings", None)
    if not callable(settings):
        return None
    st = settings()
    return search_via_server(st.data_dir, st.database_url, SimpleNamespace(**fields))


def search_command(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Argument(help="What to look for, in plain words.")] = None,
    like: Annotated[Path | None, typer.Option("--like", help="Shots that look like this image.")] = None,
    like_shot: Annotated[int | None, typer.Option("--like-shot", help="More like this shot id.")] = None,
    kind: Annotated[str | None, typer.Option(help="video, image or audio.")] = None,
    path: Annotated[str | None, typer.Option("--path", help="Glob over the file path.")] = None,
    after: Annotated[str | None, typer.Option(help="Created at or after (ISO date).")] = None,
    before: Annotated[str | None, typer.Option(help="Created before (ISO date).")] = None,
    min_duration: Annotated[float | None, typer.Option(help="Shortest shot, seconds.")] = None,
    max_duration: Annotated[float | None, typer.Option(help="Longest shot, seconds.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Number of hits.")] = None,
    all_shots: Annotated[bool, typer.Option(
        "--all-shots", help="List every matching shot (default: the best shot of each file, "
                            "with the number of its other matching shots).")] = False,
    per_asset: Annotated[bool, typer.Option(
        "--per-asset", help="The best shot of each file: the default now; kept as an alias.",
        hidden=True)] = False,
    cutoff: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="Least relevance (0-1) a hit needs; default 0.1 (0 with "
             "--add/--subtract/--add-image). When none reaches it, the nearest few are listed "
             "as weak matches.")] = None,
    add: Annotated[list[str] | None, typer.Option(
        "--add", help="Add a text term to the visual query, optionally weighted: "
                      "--add \"2:night\". Repeatable.")] = None,
    subtract: Annotated[list[str] | None, typer.Option(
        "--subtract", help="Subtract a text term: --subtract fence, --subtract 0.5:fence. "
                           "Repeatable.")] = None,
    add_image: Annotated[list[str] | None, typer.Option(
        "--add-image", help="Add an image to the visual query: PATH or WEIGHT:PATH. "
                            "Repeatable.")] = None,
    fusion: Annotated[str, typer.Option(
        "--fusion", hidden=True, help="calibrated (default) or rrf (the old rank fusion).")
    ] = "calibrated",
    person: Annotated[list[str] | None, typer.Option(
        "--person", help="Shots with this person; repeated: shots with ALL of them.")] = None,
    obj: Annotated[list[str] | None, typer.Option(
        "--object", help="Shots with this object; repeated: shots with ALL of them.")] = None,
    sound: Annotated[list[str] | None, typer.Option(
        "--sound", help="Segments where this sound is heard (an AudioSet label: dog, "
        "car horn, applause...); repeated: ALL of them.")] = None,
    sounds_like: Annotated[Path | None, typer.Option("--sounds-like", help="Segments that sound like this file.")] = None,
    sounds_like_shot: Annotated[int | None, typer.Option("--sounds-like-shot", help="Sound like this segment id.")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show each source's rank and share.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Also write the hits: .edl .otio .xml (timeline, a marker per hit)"
                            " or .csv (shot list).")] = None,
    record_start: Annotated[str, typer.Option(
        "--record-start", help="First record timecode of an exported timeline.")] = "01:00:00:00",
) -> None:
    """Search shots, stills and sounds by words, example image or example sound.

    Filters combine with AND: --person A --person B finds shots with both A and B."""
    from assetdb.search import SearchRequest, validate_request
    from assetdb.search.request import WEAK_MATCHES

    req = SearchRequest(
        query=query, like_image=like, like_shot=like_shot, kind=kind, path=path,
        after=after, before=before, min_duration=min_duration, max_duration=max_duration,
        per_asset=per_asset, all_shots=all_shots, cutoff=cutoff, fusion=fusion,
        add=list(add or []), subtract=list(subtract or []), add_images=list(add_image or []),
        persons=list(person or []), objects=list(obj or []), sounds=list(sound or []),
        sounds_like=sounds_like, sounds_like_shot=sounds_like_shot,
        explain=explain, weak=WEAK_MATCHES, **given(limit=limit),
    )
    # checked before the store and any model are loaded
    try:
        validate_request(req)
    except QueryError as exc:
        raise typer.BadParameter(str(exc)) from None
    if out is not None:
        from assetdb.highlights.edl import check_timecode

        check_timecode(record_start)
    # a running `assetdb serve` on this store answers warm, before anything heavy loads
    from cli.web.client import search_via_server

    settings = state(ctx).settings()
    hits = search_via_server(settings.data_dir, settings.database_url, req)
    if hits is None:
        from assetdb.search import search

        req.device = resolve_device(device)
        hits = [h.to_dict() for h in search(store(ctx), req)]
    by_words = bool((req.query or "").strip()) and not (req.add or req.subtract
                                                        or req.add_images)
    _emit(hits, as_json, as_csv, explain, ranked=by_words, cutoff=req.cutoff)
    hits = [h for h in hits if not h.get("weak")]  # a timeline or shot list of good hits
    if out is not None and hits:
        from assetdb.highlights.selects import export_hits

        sel = export_hits(store(ctx), hits, out, query=query, record_start=record_start)
        for w in sel.warnings:
            message(f"warning: {w}")
        n = len(sel.rows) if out.suffix.lower() == ".csv" else len(sel.reel.clips)
        message(f"{n} {'rows' if out.suffix.lower() == '.csv' else 'clips'} -> {out}")


@index_app.command("status")
def index_status_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """The vector spaces in the database, the visual model and their index files."""
    from assetdb.search import index_status

    st = index_status(store(ctx))
    if as_json:
        print_json(st)
        return
    vm = st["visual_model"]
    rows = [{"space": e["space"], "vectors": e["vectors"], "dim": e["dim"],
             "index": e.get("index_kind") or "no index",
             "state": "in step" if e.get("index_in_step") else "needs sync"}
            for e in st["spaces"]]
    print_record([("visual model", vm["spec"] if vm else "-"),
                  ("visual space", vm["space"] if vm else "-")])
    print_rows(rows, ["space", "vectors", "dim", "index", "state"])


@index_app.command("rebuild")
def index_rebuild_command(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(
        help="concepts | clip:<model>:<pretrained tag> | clip:<model>:<checkpoint path>"
             " (default: the database's current model).")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON report on stdout.")] = False,
) -> None:
    """Re-embed every keyframe (optionally with another model) and rebuild the index."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from assetdb.spaces import parse_model
    from cli.output import err_console
    from indexer.reindex import rebuild_visual

    if model:
        parse_model(model)  # a bad spec fails before any progress output
    st = store(ctx)
    dev = resolve_device(device)
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("embedding keyframes", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = rebuild_visual(st, model, device=dev, progress=progress)
    if as_json:
        print_json(asdict(report))
    else:
        print_line(f"{report.keyframes} keyframes of {report.assets} assets -> {report.space} "
                   f"({report.index_kind or 'no'} index) in {report.seconds:.1f} s")
