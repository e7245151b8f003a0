"""`assetdb ingest PATH...`: index media files (incremental)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from assetdb.errors import NotFound
from cli.app import resolve_device, store
from cli.output import err_console, message, print_json
from indexer.schedule import DEFAULT_BATCH_SIZE

EXIT_SOME_FAILED = 3
FLAG_STAGES = {"faces": "faces", "objects": "objects", "ocr": "ocr", "audio": "audio",
               "transcripts": "transcript"}


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to index.")],
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", min=1, help="Worker processes (default: cores).")
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
    no_audio: Annotated[
        bool, typer.Option("--no-audio", help="No audio features and no sound events.")
    ] = False,
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
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1,
                          help="Keyframes or segments per model batch, gathered across files.")
    ] = DEFAULT_BATCH_SIZE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Index media files: probe, shots, keyframes, then every extractor. Incremental.

    Exit 1 when no PATH exists, 3 when some files, stages or PATHs failed (the rest is
    indexed)."""
    missing = [p for p in paths if not p.exists()]
    if len(missing) == len(paths) and not prune:
        raise NotFound("no such file or folder: " + ", ".join(str(p) for p in missing))
    # --prune over a folder that is gone still removes what was under it
    roots = paths if prune else [p for p in paths if p.exists()]

    from indexer import extractors as ext_registry

    disabled = set(skip or [])
    for name, flag in zip(FLAG_STAGES.values(), (no_faces, no_objects, no_ocr, no_audio,
                                                 no_transcripts), strict=True):
        if flag:
            disabled.add(name)
            if name == "audio":
                disabled.add("sound_events")
    names = [n for n in only if n != "catalogue"] if only else None
    unknown = [n for n in (names or []) + sorted(disabled) if n not in ext_registry.REGISTRY]
    if unknown:
        raise typer.BadParameter(f"unknown extractor(s): {', '.join(unknown)}; known: "
                                 f"{', '.join(ext_registry.available())}")
    st = store(ctx)
    dev = resolve_device(device)
    options: dict[str, dict] = {n: {"device": dev} for n in ext_registry.REGISTRY}
    for n, opts in (st.settings.extra.get("extractors") or {}).items():
        options.setdefault(n, {}).update(opts)

    from indexer.ingest import ingest as run_ingest

    progress, on_event = _progress()
    with progress:
        report = run_ingest(st, roots, workers=workers, extractors=names, disabled=disabled,
                            options=options, prune=prune, retry_failed=retry_failed,
                            progress=on_event, ray_address=ray, batch_size=batch_size)
    summary = report.to_dict()
    summary["not_found"] = [str(p) for p in missing]
    if as_json:
        print_json(summary)
    else:
        _print_summary(report, missing)
    code = report.exit_code
    if missing:
        code = max(code, EXIT_SOME_FAILED if len(missing) < len(paths) else 1)
    raise typer.Exit(code)


def _progress():
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
    t0 = time.perf_counter()

    def on_event(kind: str, data: dict) -> None:
        nonlocal task_id
        if kind == "planned":
            task_id = progress.add_task("ingest", total=data["tasks"], rate="0.0")
        elif kind == "done" and task_id is not None:
            progress.advance(task_id)
            done = progress.tasks[0].completed
            progress.update(task_id, rate=f"{done / max(1e-9, time.perf_counter() - t0):.2f}")

    return progress, on_event


def _print_summary(r, missing: list[Path]) -> None:
    message(
        f"scanned {r.scanned} media files ({r.skipped_not_media} other files skipped): "
        f"{r.new} new, {r.changed} changed, {r.renamed} renamed, {r.unchanged} unchanged; "
        f"indexed {r.indexed}, failed {len(r.failed)}, stage failures "
        f"{len(r.stage_failures)}, missing {len(r.missing)}"
        + (f", pruned {r.pruned}" if r.pruned else "")
        + f" in {r.seconds:.1f}s"
    )
    for p in missing:
        message(f"not found: {p}")
    for f in r.failed:
        message(f"failed: {f['path']}: {f['error']}")
    for f in r.stage_failures:
        message(f"stage {f['stage']} failed: {f['path']}: {f['error']}")
    for e in r.scan_errors:
        message(f"skipped: {e['path']}: {e['error']}")
    if r.missing and not r.pruned:
        message(f"{len(r.missing)} indexed files are gone from disk; "
                "`assetdb ingest --prune` removes them")
