"""`assetdb highlights` and `assetdb interest train|score`.

Registered in cli/main.py (they use its root --data-dir / --database-url)::

    from cli import highlights
    app.command("highlights")(highlights.highlights_cmd)
    app.add_typer(highlights.interest_app, name="interest")
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from assetdb.errors import AssetdbError

interest_app = typer.Typer(help="Interestingness scores: default formula and the learned model.")


def _store(ctx: typer.Context):
    """The store of the root command's --data-dir / --database-url (cli.main's State)."""
    root = ctx.find_root().obj
    if root is not None and hasattr(root, "store"):
        return root.store()
    from assetdb.config import load_settings
    from assetdb.db import Store

    return Store.open(load_settings())


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


def _resolve_asset_id(store, ref: str) -> int:
    from assetdb.interest import load_asset

    with store.session() as s:
        asset = load_asset(s, ref)
        if asset.kind != "video":
            raise AssetdbError(f"{asset.path} is an {asset.kind} asset; highlights need video")
        return asset.id


def highlights_cmd(
    ctx: typer.Context,
    asset: Annotated[str | None, typer.Argument(help="path or id of a catalogued video")] = None,
    duration: Annotated[float, typer.Option("--duration", "-d", help="reel length (s)")] = 30.0,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help=".otio .edl .xml .json .mp4")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", "-q", help="archive-wide: search query")
    ] = None,
    order: Annotated[str, typer.Option("--order", help="chrono|score")] = "chrono",
    min_clip: Annotated[float, typer.Option("--min-clip", help="shortest clip (s)")] = 1.5,
    max_clip: Annotated[float | None, typer.Option("--max-clip", help="longest clip (s)")] = None,
    fades: Annotated[bool, typer.Option("--fades", help="short fades at each cut")] = False,
    crossfade: Annotated[
        float, typer.Option("--crossfade", help="dissolve length (s) between clips; 0 = cuts")
    ] = 0.0,
    explain: Annotated[bool, typer.Option("--explain", help="every score component")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout")] = False,
) -> None:
    """Cut a highlight reel from one clip, or from the shots a search matches."""
    from assetdb.highlights import highlights_for_asset, highlights_for_query
    from assetdb.timeline import write_reel

    if (asset is None) == (query is None):
        typer.echo("error: give either a PATH|ID or --query", err=True)
        raise typer.Exit(2)
    try:
        store = _store(ctx)
        kw = {
            "min_clip_s": min_clip,
            "max_clip_s": max_clip,
            "order": order,
            "fades": fades,
            "crossfade_s": crossfade,
        }
        if query is not None:
            reel = highlights_for_query(store, query, duration, **kw)
        else:
            from indexer.extractors.interest import ensure_interest

            aid = _resolve_asset_id(store, asset)
            if ensure_interest(store, aid):
                typer.echo(f"measured interest signals for asset {aid}", err=True)
            with store.session() as s:
                reel = highlights_for_asset(s, aid, duration, **kw)
        for w in reel.warnings:
            typer.echo(f"warning: {w}", err=True)
        if out is not None:
            progress = None
            if out.suffix.lower() == ".mp4" and sys.stderr.isatty():
                from rich.progress import Progress

                prog = Progress(transient=True)
                prog.start()
                task = prog.add_task("rendering", total=None)

                def progress(done: int, total: int) -> None:
                    prog.update(task, completed=done, total=total)

            try:
                write_reel(reel, out, explain=explain, progress=progress)
            finally:
                if progress is not None:
                    prog.stop()
    except AssetdbError as exc:
        _fail(exc)
        return
    if as_json:
        d = reel.to_dict(explain=explain)
        if out is not None:
            d["out"] = str(out)
        typer.echo(json.dumps(d, indent=2))
        return
    for c in reel.clips:
        typer.echo(
            f"{c.path}\t{float(c.start_s):.3f}\t{float(c.end_s):.3f}\t"
            f"shot {c.segment_index}\t{c.score:.3f}"
        )
    if explain:
        for e in reel.explain:
            typer.echo(json.dumps(e), err=False)
    typer.echo(
        f"{len(reel.clips)} clips, {reel.duration_s:.3f} s" + (f" -> {out}" if out else ""),
        err=True,
    )


@interest_app.command("show")
def interest_show(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="path or id of a catalogued video")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    explain: Annotated[bool, typer.Option("--explain")] = False,
) -> None:
    """Default (label-free) score of every shot."""
    from assetdb.interest import load_asset, score_asset
    from indexer.extractors.interest import ensure_interest

    try:
        store = _store(ctx)
        aid = _resolve_asset_id(store, asset)
        ensure_interest(store, aid)
        with store.session() as s:
            sc = score_asset(s, load_asset(s, aid))
    except AssetdbError as exc:
        _fail(exc)
        return
    rows = [
        sh.explain()
        if explain
        else {
            "segment_id": sh.segment_id,
            "index": sh.index,
            "start_s": round(sh.start_s, 3),
            "end_s": round(sh.end_s, 3),
            "score": round(sh.score, 4),
        }
        for sh in sc.shots
    ]
    if as_json:
        typer.echo(
            json.dumps(
                {"asset_id": aid, "features": sc.features, "audio": sc.audio_state, "shots": rows},
                indent=2,
            )
        )
    else:
        for r in rows:
            typer.echo(
                json.dumps(r)
                if explain
                else f"{r['index']}\t{r['start_s']}\t{r['end_s']}\t{r['score']}"
            )


@interest_app.command("train")
def interest_train(
    ctx: typer.Context,
    csv_path: Annotated[Path, typer.Argument(help="CSV: asset,start,end,label|score")],
    epochs: Annotated[int, typer.Option("--epochs")] = 300,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Train the LSTM model; prints held-out MAP and the random baseline."""
    from assetdb.interest_model import train

    try:
        store = _store(ctx)
        with store.session() as s:
            rep = train(s, csv_path, store.settings.model_dir, epochs=epochs)
    except AssetdbError as exc:
        _fail(exc)
        return
    d = rep.to_dict()
    if as_json:
        typer.echo(json.dumps(d, indent=2))
    else:
        typer.echo(
            f"{d['model_path']}\tMAP {d['map_test']:.3f} (random {d['random_baseline']:.3f}, "
            f"{d['n_train']} train / {d['n_test']} test windows, visual={d['visual_kind']})"
        )


@interest_app.command("score")
def interest_score(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="path or id of a catalogued video")],
    model: Annotated[
        Path | None, typer.Option("--model", help="model file (default: newest)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score every shot of an asset with the learned model."""
    from assetdb.interest_model import LearnedScorer, latest_model

    try:
        store = _store(ctx)
        scorer = LearnedScorer(model or latest_model(store.settings.model_dir))
        with store.session() as s:
            rows = scorer.score_asset(s, asset)
    except AssetdbError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps({"model": str(scorer.path), "shots": rows}, indent=2))
    else:
        for r in rows:
            typer.echo(f"{r['index']}\t{r['start_s']}\t{r['end_s']}\t{r['score']}")
