"""`assetdb highlights` and `assetdb interest show|train|score`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from assetdb.errors import AssetdbError
from cli.app import given, group, store
from cli.output import clock, message, print_json, print_line, print_rows

interest_app = group(help="Interestingness scores: default formula and the learned model.")
SHOT_COLUMNS = ["index", "start_s", "end_s", "score"]
CLIP_COLUMNS = ["path", "start_s", "end_s", "shot", "score"]


def _video_id(st, ref: str) -> int:
    from assetdb.highlights import load_asset

    with st.session() as s:
        asset = load_asset(s, ref)
        if asset.kind != "video":
            raise AssetdbError(f"{asset.path} is an {asset.kind} asset; highlights need video")
        return asset.id


def _measure(st, aid: int) -> bool:
    from indexer.ingest import ensure_stages

    return bool(ensure_stages(st, aid, ["interest"]))


def highlights_cmd(
    ctx: typer.Context,
    asset: Annotated[str | None, typer.Argument(help="Path, id or file name of a catalogued video.")] = None,
    duration: Annotated[float, typer.Option("--duration", "-d", min=0.0, help="Reel length (s).")] = 30.0,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help=".otio .edl .xml (FCP7) .json .mp4")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", "-q", help="Archive-wide: a search query.")
    ] = None,
    order: Annotated[str | None, typer.Option("--order", help="chrono|score  [default: chrono]")] = None,
    min_clip: Annotated[float | None, typer.Option("--min-clip", help="Shortest clip (s).")] = None,
    max_clip: Annotated[float | None, typer.Option("--max-clip", help="Longest clip (s).")] = None,
    fades: Annotated[bool, typer.Option("--fades", help="Short fades at each cut.")] = False,
    crossfade: Annotated[
        float | None, typer.Option("--crossfade", help="Dissolve length (s) between clips; 0 = cuts.")
    ] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Every score component.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
    record_start: Annotated[str, typer.Option(
        "--record-start", help="First record timecode of an .edl/.otio/.xml timeline.")
    ] = "01:00:00:00",
) -> None:
    """Cut a highlight reel from one clip, or from the shots a search matches."""
    if (asset is None) == (query is None):
        raise typer.BadParameter("give either a PATH|ID or --query", param_hint="ASSET")
    from assetdb.highlights import highlights_for_asset, highlights_for_query, write_reel
    from assetdb.highlights.edl import check_timecode

    if out is not None:
        check_timecode(record_start)
    st = store(ctx)
    kw = given(min_clip_s=min_clip, max_clip_s=max_clip, order=order, crossfade_s=crossfade)
    if query is not None:
        reel = highlights_for_query(st, query, duration, fades=fades, **kw)
    else:
        aid = _video_id(st, asset)
        if _measure(st, aid):
            message(f"measured interest signals for asset {aid}")
        with st.session() as s:
            reel = highlights_for_asset(s, aid, duration, fades=fades, **kw)
    for w in reel.warnings:
        message(f"warning: {w}")
    if out is not None:
        _write(reel, out, explain, write_reel, record_start)
    if as_json:
        d = reel.to_dict(explain=explain)
        if out is not None:
            d["out"] = str(out)
        print_json(d)
        return
    rows = [{"path": c.path, "start_s": round(float(c.start_s), 3), "end_s": round(float(c.end_s), 3),
             "shot": c.segment_index, "score": round(c.score, 3)} for c in reel.clips]
    print_rows(rows, CLIP_COLUMNS)
    if explain:
        for e in reel.explain:
            print_line(json.dumps(e))
    message(f"{len(reel.clips)} clips, {clock(reel.duration_s)}" + (f" -> {out}" if out else ""))


def _write(reel, out: Path, explain: bool, write_reel, record_start: str) -> None:
    if out.suffix.lower() != ".mp4" or not sys.stderr.isatty():
        write_reel(reel, out, explain=explain, progress=None, record_start=record_start)
        return
    from rich.progress import Progress

    from cli.output import err_console

    with Progress(console=err_console, transient=True) as prog:
        task = prog.add_task("rendering", total=None)

        def progress(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        write_reel(reel, out, explain=explain, progress=progress)


@interest_app.command("show")
def interest_show(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="Path, id or file name of a catalogued video.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    explain: Annotated[bool, typer.Option("--explain")] = False,
) -> None:
    """Default (label-free) score of every shot."""
    from assetdb.highlights import load_asset, score_asset

    st = store(ctx)
    aid = _video_id(st, asset)
    _measure(st, aid)
    with st.session() as s:
        sc = score_asset(s, load_asset(s, aid))
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
    columns = list(rows[0]) if explain and rows else SHOT_COLUMNS
    print_rows(rows, columns, as_json=as_json, json_data={
        "asset_id": aid, "features": sc.features, "audio": sc.audio_state, "shots": rows})


@interest_app.command("train")
def interest_train(
    ctx: typer.Context,
    csv_path: Annotated[Path, typer.Argument(help="CSV: asset,start,end,label|score")],
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Training epochs.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Train the LSTM model; prints held-out MAP and the random baseline."""
    from assetdb.highlights import train

    st = store(ctx)
    with st.session() as s:
        rep = train(s, csv_path, st.settings.model_dir, **given(epochs=epochs))
    d = rep.to_dict()
    if as_json:
        print_json(d)
    else:
        print_line(
            f"{d['model_path']}\tMAP {d['map_test']:.3f} (random {d['random_baseline']:.3f}, "
            f"{d['n_train']} train / {d['n_test']} test windows, visual={d['visual_kind']})"
        )


@interest_app.command("score")
def interest_score(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="Path, id or file name of a catalogued video.")],
    model: Annotated[
        Path | None, typer.Option("--model", help="Model file (default: the newest).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score every shot of an asset with the learned model."""
    from assetdb.highlights import LearnedScorer, latest_model

    st = store(ctx)
    scorer = LearnedScorer(model or latest_model(st.settings.model_dir))
    with st.session() as s:
        rows = scorer.score_asset(s, asset)
    print_rows(rows, SHOT_COLUMNS, as_json=as_json,
               json_data={"model": str(scorer.path), "shots": rows})
