"""assetdb's command line (Typer): a thin layer over the assetdb and indexer APIs."""
