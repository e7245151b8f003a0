"""The one `assetdb` app object: root options, the one store getter, errors handled once.

Exit codes: 0 ok; 1 a handled error (one line `error: ...` on stderr); 2 usage;
3 an ingest where some files or stages failed (the rest was indexed); 130 Ctrl-C.
Tracebacks only with ``--debug``.

Nothing heavy is imported here (no SQLAlchemy, numpy, torch): ``assetdb --help`` and
argument checks stay instant; commands import the library inside their bodies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from assetdb.errors import AssetdbError
from assetdb.models.base import quiet_environment
from cli.output import err_console, message

log = logging.getLogger("assetdb.cli")

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# typer vendors click; its usage errors all derive from this class
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

# Third-party loggers that talk at INFO about their own plumbing (alembic lists its
# plugins on every migration check); under -v they would break the progress bar.
QUIET_LOGGERS = ("alembic", "numba", "matplotlib", "PIL", "urllib3", "httpx", "filelock")

class Group(TyperGroup):
    """Every command group of the CLI. Turns what a command raises into an exit code:
    a library error into one line (the traceback with ``--debug``), Ctrl-C into 130.
    The root catches first for its own commands; a group mounted on its own (tests)
    gets the same handling."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:  # bad arguments: one line, exit 2
            hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            message(f"error: {exc.format_message()}{hint}")
            raise typer.Exit(EXIT_USAGE) from None
        except (typer.Exit, typer.Abort, TyperException):  # exit codes
            raise
        except KeyboardInterrupt:
            message("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except AssetdbError as exc:
            if _debug(ctx):
                raise
            message(f"error: {exc}")
            raise typer.Exit(EXIT_ERROR) from None
        except Exception as exc:  # a bug or an unexpected library failure
            if _debug(ctx):
                raise
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            message(f"error: {type(exc).__name__}: {text} (run with --debug for the traceback)")
            raise typer.Exit(EXIT_ERROR) from None


def group(**kw: Any) -> typer.Typer:
    """A command group with the CLI's error handling (and its usual options)."""
    kw.setdefault("no_args_is_help", True)
    return typer.Typer(cls=Group, add_completion=False, pretty_exceptions_enable=False, **kw)


@dataclass
class State:
    """What the root options say; the one place a command gets its store from."""

    data_dir: str | None = None
    database_url: str | None = None
    debug: bool = False
    _store: Any = None

    def settings(self):
        from assetdb.config import load_settings

        return load_settings(data_dir=self.data_dir, database_url=self.database_url)

    def store(self):
        if self._store is None:
            from assetdb.db import Store

            self._store = Store.open(self.settings())
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def state(ctx: typer.Context) -> State:
    """The root's State; a group mounted without the root (tests) gets one from the
    environment (ASSETDB_DATA_DIR, ASSETDB_DATABASE_URL, the config file)."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
        root.call_on_close(root.obj.close)
    return root.obj


def store(ctx: typer.Context):
    """THE store getter: opened once per invocation from the root options."""
    return state(ctx).store()


def _debug(ctx: typer.Context) -> bool:
    return bool(getattr(ctx.find_root().obj, "debug", False))


def resolve_device(device: str | None) -> str:
    """The library's device policy; a bad name is a usage error. Call it after
    arguments are checked."""
    from assetdb.models.base import resolve_device as library_policy

    try:
        return library_policy(device or "auto")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--device") from None


def given(**kw: Any) -> dict[str, Any]:
    """The options the user gave: the library's own defaults apply to the rest."""
    return {k: v for k, v in kw.items() if v is not None}


app = group(help="assetdb: index production media and search it.")


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        str | None,
        typer.Option("--data-dir", help="Data directory (env ASSETDB_DATA_DIR).", show_default=False),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="sqlite:///PATH or postgresql://... (env "
                     "ASSETDB_DATABASE_URL); default: SQLite in the data dir.", show_default=False),
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logging.")] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Tracebacks on errors.")] = False,
) -> None:
    setup_logging(verbose, debug)
    quiet_environment()
    ctx.obj = State(data_dir=data_dir, database_url=database_url, debug=debug)
    ctx.call_on_close(ctx.obj.close)


def setup_logging(verbose: int, debug: bool) -> None:
    """Only the CLI installs handlers: rich logs on stderr, library noise kept down."""
    from rich.logging import RichHandler

    level = logging.DEBUG if debug else logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(name)s: %(message)s", force=True,
                        handlers=[RichHandler(console=err_console, show_path=False)])
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
