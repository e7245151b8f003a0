"""Ingest: files -> rows and vectors, flowing one way.

scan (``indexer.scan``) -> plan (``indexer.plan``, pure) -> catalogue
(``indexer.catalogue``: probe, shots, keyframes) -> extractors
(``indexer.extractors``: compute only, picklable results) -> one writer
(``indexer.writer`` with ``indexer.rows``). Stage functions are plain functions over
typed work items (``indexer.work``) and know nothing about processes or Ray: the
runners (``indexer.runners``) drive them; ``indexer.ingest`` orchestrates.
"""
