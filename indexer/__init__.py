"""Ingest workers: scan -> probe/decode -> shots -> keyframes -> extractors -> write.

Stage functions are plain functions over typed work items (``indexer.work``);
they know nothing about processes or Ray. ``indexer.runner`` drives them.
"""
