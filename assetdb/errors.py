"""Typed errors. Library code raises these; only the CLI turns them into
one-line messages and exit codes."""


class AssetdbError(Exception):
    """Base class for errors the user can act on (printed as one line)."""


class ConfigError(AssetdbError):
    pass


class SchemaOutOfDate(AssetdbError):
    """The database is behind the code's migrations."""


class NotFound(AssetdbError):
    pass


class MediaError(AssetdbError):
    """A media file cannot be read or decoded."""


class ModelUnavailable(AssetdbError):
    """A model's weights or package are missing."""


class IndexMismatch(AssetdbError):
    """A vector index does not match the SQL store or the requested model."""


class QueryError(AssetdbError):
    """A malformed or unanswerable query."""
