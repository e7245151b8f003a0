"""`assetdb` command line: the app (cli.app) and the commands registered on it.

Each command module parses its arguments, makes one library call and prints through
cli.output; errors, the store and logging are the app's (cli/app.py).
"""

from __future__ import annotations

import sys

from cli import catalogue, highlights, ingest, persons, search, serve, transcript
from cli.app import EXIT_INTERRUPTED, app
from cli.output import message

app.command("ingest")(ingest.ingest)
app.command("status")(catalogue.status)
app.add_typer(catalogue.assets_app, name="assets")
app.add_typer(catalogue.db_app, name="db")
app.command("search")(search.search_command)
app.add_typer(search.index_app, name="index")
app.command("transcript")(transcript.transcript_cmd)
app.add_typer(persons.persons_app, name="persons")
app.add_typer(persons.faces_app, name="faces")
app.command("highlights")(highlights.highlights_cmd)
app.add_typer(highlights.interest_app, name="interest")
app.command("serve")(serve.serve_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # before or after a command runs (imports, teardown)
        message("interrupted")
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
