"""`assetdb transcript ASSET --format srt|vtt|txt|json`: an asset's transcript on stdout."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli.app import store

FORMATS = ("srt", "vtt", "txt", "json")


def transcript_cmd(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="Asset id, path or unique file name.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help=" | ".join(FORMATS))] = "srt",
) -> None:
    """Print an asset's speech transcript as subtitles (SRT/WebVTT), text or JSON."""
    from assetdb.catalogue import resolve_asset
    from assetdb.sound import transcript_export

    with store(ctx).session() as s:
        text = transcript_export(s, resolve_asset(s, asset).id, fmt)
    sys.stdout.write(text)
