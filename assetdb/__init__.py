"""assetdb: a search engine for production media archives.

Importing this package is cheap: heavy libraries (torch, faiss, av, models)
are imported by the modules that use them, when they are used.
"""

from assetdb.errors import AssetdbError

__version__ = "0.1.0"
__all__ = ["AssetdbError", "__version__"]
