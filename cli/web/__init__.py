"""`assetdb serve`: the archive in a browser (FastAPI app, JSON API, static web app)."""
