"""`assetdb` command line.

Exit codes: 0 ok; 1 a handled error (one line `error: ...` on stderr); 2 usage;
3 an ingest where some files or stages failed (the rest was indexed); 130 Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from assetdb.errors import AssetdbError
from cli.output import err_console, print_json, print_rows

log = logging.getLogger("assetdb.cli")

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class _Group(TyperGroup):
    """Turns library errors into one line and an exit code (tracebacks with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssetdbError as exc:
            if _debug(ctx):
                raise
            err_console.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", markup=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(getattr(root.obj, "debug", False))


app = typer.Typer(
    cls=_Group,
    help="assetdb: index production media and search it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
assets_app = typer.Typer(cls=_Group, help="Inspect catalogued assets.", no_args_is_help=True)
db_app = typer.Typer(cls=_Group, help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(assets_app, name="assets")
app.add_typer(db_app, name="db")


@dataclass
class State:
    data_dir: str | None = None
    database_url: str | None = None
    debug: bool = False
    _store: Any = None

    def settings(self):  # noqa: ANN201
        from assetdb.config import load_settings

        return load_settings(data_dir=self.data_dir, database_url=self.database_url)

    def store(self):  # noqa: ANN201
        if self._store is None:
            from assetdb.db import Store

            self._store = Store.open(self.settings())
        return self._store


def state(ctx: typer.Context) -> State:
    return ctx.find_root().obj


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        str | None,
        typer.Option("--data-dir", help="Data directory (env ASSETDB_DATA_DIR).", show_default=False),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="SQLAlchemy URL (env ASSETDB_DATABASE_URL); "
                     "default: SQLite in the data dir.", show_default=False),
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logging.")] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Tracebacks on errors.")] = False,
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    if debug:
        level = logging.DEBUG
    from rich.logging import RichHandler

    logging.basicConfig(level=level, format="%(name)s: %(message)s", force=True,
                        handlers=[RichHandler(console=err_console, show_path=False)])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # model libraries print progress bars and banners; stderr is for our progress and logs
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ctx.obj = State(data_dir=data_dir, database_url=database_url, debug=debug)


# ------------------------------------------------------------------ ingest


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when a CUDA GPU is usable, else 'cpu' (the choice is logged)."""
    if device != "auto":
        return device
    chosen = "cpu"
    try:
        import torch

        if torch.cuda.is_available():
            chosen = "cuda"
    except ImportError:
        pass
    log.info("device: %s", chosen)
    return chosen


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to index.")],
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", help="Worker processes (default: cores).")
    ] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Remove assets whose files are gone.")] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only these extractors (repeatable); "
                     "`--only catalogue` runs none."),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option("--skip", help="Skip an extractor (repeatable); also --no-faces etc."),
    ] = None,
    no_faces: Annotated[bool, typer.Option("--no-faces", help="No face detection.")] = False,
    no_objects: Annotated[bool, typer.Option("--no-objects", help="No object detection.")] = False,
    no_ocr: Annotated[bool, typer.Option("--no-ocr", help="No on-screen text (OCR).")] = False,
    no_audio: Annotated[bool, typer.Option("--no-audio", help="No audio features.")] = False,
    no_transcripts: Annotated[
        bool, typer.Option("--no-transcripts", help="No speech transcription.")
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Retry files and stages that failed before.")
    ] = False,
    device: Annotated[str, typer.Option("--device", help="auto|cpu|cuda")] = "auto",
    ray: Annotated[
        str | None,
        typer.Option("--ray", help="Run the workers on Ray: a cluster address, 'auto' or 'local'."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Index media files: probe, shots, keyframes, then every extractor. Incremental."""
    from indexer import extractors as ext_registry
    from indexer.ingest import ingest as run_ingest

    st = state(ctx)
    store = st.store()
    disabled = set(skip or [])
    for flag, names in ((no_faces, ["faces"]), (no_objects, ["objects"]), (no_ocr, ["ocr"]),
                        (no_audio, ["audio"]), (no_transcripts, ["transcript"])):
        if flag:
            disabled.update(names)
    names = [n for n in only if n != "catalogue"] if only else None
    unknown = [n for n in (names or []) + sorted(disabled) if n not in ext_registry.REGISTRY]
    if unknown:
        raise AssetdbError(f"unknown extractor(s): {', '.join(unknown)}; known: "
                           f"{', '.join(ext_registry.available())}")
    dev = resolve_device(device)
    options: dict[str, dict] = {n: {"device": dev} for n in ext_registry.REGISTRY}
    for n, opts in (store.settings.extra.get("extractors") or {}).items():
        options.setdefault(n, {}).update(opts)

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} files/s"), TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(), console=err_console, transient=False,
        disable=not err_console.is_terminal,
    )
    task_id = None
    import time as _time

    t0 = _time.perf_counter()

    def on_event(kind: str, data: dict) -> None:
        nonlocal task_id
        if kind == "planned":
            task_id = progress.add_task("ingest", total=data["tasks"], rate="0.0")
        elif kind == "done" and task_id is not None:
            progress.advance(task_id)
            done = progress.tasks[0].completed
            progress.update(task_id, rate=f"{done / max(1e-9, _time.perf_counter() - t0):.2f}")

    with progress:
        report = run_ingest(store, paths, workers=workers, extractors=names, disabled=disabled,
                            options=options, prune=prune, retry_failed=retry_failed,
                            progress=on_event, ray_address=ray)
    summary = report.to_dict()
    if as_json:
        print_json(summary)
    else:
        r = report
        err_console.print(
            f"scanned {r.scanned} media files ({r.skipped_not_media} other files skipped): "
            f"{r.new} new, {r.changed} changed, {r.renamed} renamed, {r.unchanged} unchanged; "
            f"indexed {r.indexed}, failed {len(r.failed)}, stage failures "
            f"{len(r.stage_failures)}, missing {len(r.missing)}"
            + (f", pruned {r.pruned}" if r.pruned else "")
            + f" in {r.seconds:.1f}s", markup=False, highlight=False,
        )
        for f in r.failed:
            err_console.print(f"failed: {f['path']}: {f['error']}", markup=False, highlight=False)
        for f in r.stage_failures:
            err_console.print(f"stage {f['stage']} failed: {f['path']}: {f['error']}",
                              markup=False, highlight=False)
        for e in r.scan_errors:
            err_console.print(f"skipped: {e['path']}: {e['error']}", markup=False, highlight=False)
        if r.missing and not r.pruned:
            err_console.print(f"{len(r.missing)} indexed files are gone from disk; "
                              "`assetdb ingest --prune` removes them", markup=False)
    raise typer.Exit(report.exit_code)


# ------------------------------------------------------------------ status / assets


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """What is indexed, what failed, and where."""
    from assetdb.catalogue import status as get_status

    s = get_status(state(ctx).store())
    if as_json:
        print_json(s)
        return
    a = s["assets"]
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(a["by_kind"].items())) or "none"
    lines = [
        f"database\t{s['database']}",
        f"data dir\t{s['data_dir']}",
        f"schema\t{s['schema_revision']} (head {s['schema_head']})",
        f"assets\t{a['total']} ({a['indexed']} indexed: {kinds}; {a['failed']} failed; "
        f"{a['pending']} pending; {a['missing']} missing)",
        f"media\t{s['media_hours'] * 60:.1f} min in {s['segments']} segments, {s['keyframes']} keyframes",
    ]
    for stage, c in sorted(s["stages"].items()):
        lines.append(f"stage {stage}\t{c.get('done', 0)} done, {c.get('failed', 0)} failed")
    for space, n in sorted(s["vectors"].items()):
        lines.append(f"vectors {space}\t{n}")
    sys.stdout.write("\n".join(lines) + "\n")


@assets_app.command("list")
def assets_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option("--kind", help="video|image|audio")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only files that failed.")] = False,
    limit: Annotated[int | None, typer.Option("--limit")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_csv: Annotated[bool, typer.Option("--csv")] = False,
) -> None:
    """List assets."""
    from assetdb.catalogue import list_assets

    if kind and kind not in ("video", "image", "audio"):
        raise typer.BadParameter("kind must be video, image or audio", param_hint="--kind")
    rows = list_assets(state(ctx).store(), kind=kind, failed=failed, limit=limit)
    cols = ["id", "kind", "state", "duration_s", "segments", "width", "height", "path", "error"]
    print_rows(rows, cols, as_json=as_json, as_csv=as_csv, title="assets")


@assets_app.command("show")
def assets_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Asset id or path.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One asset with its shots, timecodes, keyframes and everything extracted."""
    from assetdb.catalogue import asset_details

    d = asset_details(state(ctx).store(), ref)
    if as_json:
        print_json(d)
        return
    out = []
    for k in ("id", "path", "kind", "state", "error", "container", "duration_s", "frame_rate",
              "variable_frame_rate", "frame_count", "width", "height", "rotation", "video_codec",
              "audio_codec", "created_at", "content_hash"):
        if d.get(k) not in (None, "", False):
            out.append(f"{k}\t{d[k]}")
    for w in d.get("warnings") or []:
        out.append(f"warning\t{w}")
    for a in d.get("audio_streams") or []:
        out.append(f"audio\t#{a['index']} {a.get('codec')} {a.get('channels')}ch "
                   f"{a.get('sample_rate')} Hz" + ("" if a.get("decodable", True) else " (broken)"))
    for name, st in sorted((d.get("stages") or {}).items()):
        out.append(f"stage\t{name} v{st['version']} {st['state']}"
                   + (f": {st['error']}" if st.get("error") else ""))
    out.append(f"segments\t{len(d['segments'])}")
    for seg in d["segments"]:
        kfs = ", ".join(k["tc"] for k in seg["keyframes"])
        out.append(f"  #{seg['index']}\t{seg['tc_in']} - {seg['tc_out']}\t"
                   f"({seg['end_s'] - seg['start_s']:.2f}s)\tkeyframes {kfs}")
    for key, value in d.items():
        if key in ("segments", "stages", "audio_streams", "subtitle_streams", "tags", "warnings"):
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):
            out.append(f"{key}\t{len(value)}")
            for item in value[:200]:
                out.append("  " + "\t".join(f"{v}" for v in item.values()))
    sys.stdout.write("\n".join(out) + "\n")


# ------------------------------------------------------------------ db


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from assetdb.db import current_revision, make_engine, upgrade

    settings = state(ctx).settings()
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    before = current_revision(engine)
    upgrade(engine, revision)
    after = current_revision(engine)
    err_console.print(f"schema {before or 'empty'} -> {after}", markup=False)


@db_app.command("current")
def db_current(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the schema revision of the database and the code's head."""
    from assetdb.db import current_revision, head_revision, make_engine

    engine = make_engine(state(ctx).settings().database_url)
    cur, head = current_revision(engine), head_revision()
    if as_json:
        print_json({"current": cur, "head": head, "up_to_date": cur == head})
    else:
        sys.stdout.write(f"{cur or 'empty'}\t(head {head})\n")


# ------------------------------------------------------------------ features
# Each feature registers its commands here (one line each).
__import__("cli.search").search.register(app)  # search, index status|rebuild
app.command("transcript")(__import__("cli.transcript").transcript.transcript_cmd)
app.add_typer(__import__("cli.persons").persons.persons_app, name="persons")
app.add_typer(__import__("cli.persons").persons.faces_app, name="faces")
app.command("highlights")(__import__("cli.highlights").highlights.highlights_cmd)
app.add_typer(__import__("cli.highlights").highlights.interest_app, name="interest")
app.command("serve")(__import__("cli.serve").serve.serve_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
