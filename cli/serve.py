"""`assetdb serve`: one long-lived process that keeps the query models warm and serves
the JSON API and the web app (registered in cli/main.py with one line)."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from typing import Annotated

import typer

from assetdb.errors import AssetdbError
from cli.app import store

LOOPBACK_NAMES = ("localhost",)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_free(host: str, port: int) -> None:
    """Fail before announcing anything when the address is taken (another server's
    discovery file must not be overwritten)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host.strip("[]"), port))
        except OSError as exc:
            raise AssetdbError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; "
                               "is another `assetdb serve` running? (--port)") from None


def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback needs "
                                      "--token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8765,
    token: Annotated[str | None, typer.Option(
        help="Every request must carry this token (env ASSETDB_TOKEN).",
        envvar="ASSETDB_TOKEN", show_default=False)] = None,
    warm: Annotated[bool, typer.Option(help="Load the query models before serving.")] = True,
) -> None:
    """Serve the archive in a browser: search, player, persons, highlights, ingest status."""
    if not _is_loopback(host) and not token:
        raise typer.BadParameter(f"binding {host} exposes the archive; give --token "
                                 "(or ASSETDB_TOKEN)", param_hint="--host")
    # One compute thread per request: parallel requests use the cores, and intra-op
    # threads of several requests (or of other processes) only fight each other.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import uvicorn

    from cli.output import err_console
    from cli.web import discovery
    from cli.web.app import create_app

    _check_free(host, port)
    st = store(ctx)
    settings = st.settings
    app = create_app(st, token=token, warm=warm)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    client_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else shown
    discovery.write(settings.data_dir, url=f"http://{client_host}:{port}",
                    database_url=settings.database_url, token=token)
    err_console.print(f"assetdb: serving {url}/" + (" (token required)" if token else "")
                      + f" for {st.engine.url.render_as_string(hide_password=True)}",
                      markup=False, highlight=False)
    try:
        uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning",
                    access_log=False, timeout_graceful_shutdown=3)
    finally:
        discovery.remove(settings.data_dir)
    sys.stderr.flush()
