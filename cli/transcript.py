"""`assetdb transcript ASSET --format srt|vtt|txt|json`: an asset's transcript on stdout.

Register in cli/main.py with ``app.command("transcript")(transcript_cmd)``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from assetdb.errors import AssetdbError

FORMAT_HELP = "srt | vtt | txt | json"


def _store(ctx: typer.Context | None, data_dir: Path | None, database_url: str | None):
    """The store main's callback put in ``ctx.obj`` if there is one, else one opened here."""
    from assetdb.config import load_settings
    from assetdb.db import Store

    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, Store):
        return obj, False
    if obj is not None and callable(getattr(obj, "store", None)) and not (data_dir or database_url):
        return obj.store(), False  # cli.main's State: --data-dir/--database-url of the root
    return Store.open(load_settings(data_dir=data_dir, database_url=database_url)), True


def transcript_cmd(
    ctx: typer.Context,
    asset: str = typer.Argument(..., help="asset id or path"),
    fmt: str = typer.Option("srt", "--format", "-f", help=FORMAT_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", hidden=True),
    database_url: str | None = typer.Option(None, "--database-url", hidden=True),
) -> None:
    """Print an asset's speech transcript as subtitles (SRT/WebVTT), text or JSON."""
    from assetdb.sound import resolve_asset, transcript_export

    try:
        store, owned = _store(ctx, data_dir, database_url)
        try:
            with store.session() as s:
                text = transcript_export(s, resolve_asset(s, asset).id, fmt)
        finally:
            if owned:
                store.close()
    except AssetdbError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(text, nl=False)


app = typer.Typer(add_completion=False)
app.command("transcript")(transcript_cmd)
