"""`assetdb search` and `assetdb index rebuild|status`.

Register on the main app with ``cli.search.register(app)``.

JSON output (``--json``, stable): a list of hits, best first, each
``{"asset_id", "path", "kind", "segment_id", "segment_index", "start_s", "end_s",
"tc_in", "tc_out", "score", "thumbnail", "snippet", "sources": {name: {"rank",
"score", "contribution"}}}``; source names: visual, like, text, transcript, sound,
filter. ``--csv`` and piped TSV carry the same fields, ``sources`` flattened to
``<name>_rank``/``<name>_score`` columns.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from assetdb.errors import AssetdbError

log = logging.getLogger(__name__)

FIELDS = ["score", "path", "kind", "asset_id", "segment_id", "segment_index", "start_s", "end_s",
          "tc_in", "tc_out", "thumbnail", "snippet"]
SOURCES = ["visual", "like", "text", "transcript", "sound"]

index_app = typer.Typer(help="Vector index: status and rebuild (switch model).", no_args_is_help=True)


def _fail(exc: BaseException) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _store(ctx: typer.Context):
    """The store from the main app's context (``ctx.obj``), else from settings."""
    from assetdb.config import load_settings
    from assetdb.db import Store

    obj = ctx.obj
    store = None
    if isinstance(obj, dict):
        store = obj.get("store")
        settings = obj.get("settings")
    else:
        store = getattr(obj, "store", None)
        settings = getattr(obj, "settings", None)
    if store is not None:
        return store() if callable(store) else store
    return Store.open(settings or load_settings())


def _device(ctx: typer.Context, device: str | None) -> str:
    obj = ctx.obj
    dev = device or (obj.get("device") if isinstance(obj, dict) else getattr(obj, "device", None))
    if dev and dev != "auto":
        return dev
    try:
        import torch

        dev = "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        dev = "cpu"
    log.info("device: %s", dev)
    return dev


def _parse_time(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{flag} takes an ISO date or date-time, e.g. 2024-05-01") from None


def _row(hit: dict[str, Any]) -> dict[str, Any]:
    row = {f: hit.get(f) for f in FIELDS}
    for name in SOURCES:
        src = hit["sources"].get(name)
        row[f"{name}_rank"] = src["rank"] if src else None
        row[f"{name}_score"] = round(src["score"], 4) if src else None
    return row


def _print_table(hits: list[dict[str, Any]], explain: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for col in ("#", "score", "path", "in", "out", "kind", "seg"):
        table.add_column(col, overflow="fold")
    if explain:
        table.add_column("why", overflow="fold")
    table.add_column("snippet", overflow="fold")
    for i, h in enumerate(hits, 1):
        cells = [str(i), f"{h['score']:.4f}", h["path"], h["tc_in"], h["tc_out"], h["kind"],
                 str(h["segment_id"])]
        if explain:
            cells.append(" ".join(
                f"{n}#{s['rank']}({s['score']:.3f})+{s['contribution']:.4f}"
                for n, s in h["sources"].items()
            ))
        cells.append(h.get("snippet") or "")
        table.add_row(*cells)
    Console().print(table)


def _emit(hits: list[dict[str, Any]], as_json: bool, as_csv: bool, explain: bool) -> None:
    if as_json:
        typer.echo(json.dumps(hits, indent=2, ensure_ascii=False))
        return
    rows = [_row(h) for h in hits]
    cols = FIELDS + [f"{n}_{x}" for n in SOURCES for x in ("rank", "score")]
    if as_csv or not sys.stdout.isatty():
        w = csv.DictWriter(sys.stdout, fieldnames=cols, delimiter="," if as_csv else "\t",
                           lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        return
    _print_table(hits, explain)


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
    limit: Annotated[int, typer.Option(help="Number of hits.")] = 20,
    per_asset: Annotated[bool, typer.Option("--per-asset", help="Best shot per file only.")] = False,
    cutoff: Annotated[float | None, typer.Option(help="Keep hits scoring >= this fraction of the best.")] = None,
    person: Annotated[list[str] | None, typer.Option("--person", help="Shots with this person (repeatable).")] = None,
    obj: Annotated[list[str] | None, typer.Option("--object", help="Shots with this object (repeatable).")] = None,
    sounds_like: Annotated[Path | None, typer.Option("--sounds-like", help="Segments that sound like this file.")] = None,
    sounds_like_shot: Annotated[int | None, typer.Option("--sounds-like-shot", help="Sound like this segment id.")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show each source's rank and share.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto.")] = None,
) -> None:
    """Search shots, stills and sounds by words, example image or example sound."""
    fields: dict[str, Any] = {
        "query": query, "like_image": like, "like_shot": like_shot, "kind": kind, "path": path,
        "after": _parse_time(after, "--after"), "before": _parse_time(before, "--before"),
        "min_duration": min_duration, "max_duration": max_duration, "limit": limit,
        "per_asset": per_asset, "cutoff": cutoff, "persons": list(person or []),
        "objects": list(obj or []), "sounds_like": sounds_like,
        "sounds_like_shot": sounds_like_shot, "explain": explain,
    }
    try:
        # a running `assetdb serve` on this store answers warm, before anything heavy loads
        hits = _via_server(ctx, fields)
        if hits is None:
            from assetdb.search import SearchRequest, search

            req = SearchRequest(**fields)
            store = _store(ctx)
            req.device = _device(ctx, device)
            hits = [h.to_dict() for h in search(store, req)]
    except AssetdbError as exc:
        raise _fail(exc) from None
    _emit(hits, as_json, as_csv, explain)


@index_app.command("status")
def index_status_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """The vector spaces in the database, the visual model and their index files."""
    from assetdb.search import index_status

    try:
        st = index_status(_store(ctx))
    except AssetdbError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(st, indent=2))
        return
    vm = st["visual_model"]
    typer.echo(f"visual model\t{vm['spec'] if vm else '-'}\t{vm['space'] if vm else '-'}")
    for e in st["spaces"]:
        typer.echo(f"{e['space']}\t{e['vectors']} vectors\t{e['dim']}-d\t"
                   f"{e.get('index_kind') or 'no index'}\t"
                   f"{'in step' if e.get('index_in_step') else 'needs sync'}")


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
    from dataclasses import asdict

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from assetdb.reindex import rebuild_visual
    from assetdb.spaces import parse_model

    try:
        if model:
            parse_model(model)  # a bad spec fails before any progress output
        store = _store(ctx)
        dev = _device(ctx, device)
        with Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=Console(stderr=True), transient=True,
        ) as bar:
            task = bar.add_task("embedding keyframes", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = rebuild_visual(store, model, device=dev, progress=progress)
    except AssetdbError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(asdict(report), indent=2))
    else:
        typer.echo(f"{report.keyframes} keyframes of {report.assets} assets -> {report.space} "
                   f"({report.index_kind or 'no'} index) in {report.seconds:.1f} s")


def register(app: typer.Typer) -> None:
    """Add ``search`` and the ``index`` group to the main app."""
    app.command("search")(search_command)
    app.add_typer(index_app, name="index")


# A standalone app (tests, and `python -m cli.search`).
app = typer.Typer(no_args_is_help=True, add_completion=False)
register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
