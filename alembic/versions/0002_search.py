"""search: full-text index over ``texts``

SQLite: an FTS5 external-content table ``texts_fts`` (the text lives once, in
``texts``) kept in step by insert/update/delete triggers; Porter stemming over the
unicode61 tokenizer with diacritics folded ("cars" finds "car"), and prefix indexes
of 2-4 characters so ``walk*`` is an index lookup. Note for later migrations: a ``batch_alter_table("texts")`` on SQLite
recreates the table and drops these triggers; re-create them (``_sqlite_triggers``).

PostgreSQL: an expression GIN index on ``to_tsvector('simple', text)`` (no stemming,
language-neutral; prefix queries use ``:*``). Queries must use the same expression.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    """CREATE TRIGGER texts_fts_ai AFTER INSERT ON texts BEGIN
        INSERT INTO texts_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER texts_fts_ad AFTER DELETE ON texts BEGIN
        INSERT INTO texts_fts(texts_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER texts_fts_au AFTER UPDATE OF text ON texts BEGIN
        INSERT INTO texts_fts(texts_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO texts_fts(rowid, text) VALUES (new.id, new.text);
    END""",
)


def _sqlite_triggers() -> None:
    for name in ("texts_fts_ai", "texts_fts_ad", "texts_fts_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for sql in SQLITE_TRIGGERS:
        op.execute(sql)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE texts_fts USING fts5("
            "text, content='texts', content_rowid='id', "
            "tokenize='porter unicode61 remove_diacritics 2', prefix='2 3 4')"
        )
        _sqlite_triggers()
        op.execute("INSERT INTO texts_fts(texts_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute(
            "CREATE INDEX ix_texts_fts ON texts USING gin (to_tsvector('simple', text))"
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"full-text search is not implemented for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("texts_fts_ai", "texts_fts_ad", "texts_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS texts_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_texts_fts")
