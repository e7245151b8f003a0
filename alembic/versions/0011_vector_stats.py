"""vector stats: per space, the count, id sum and id checksum of the ``vectors`` rows,
kept by triggers

Opening a space's FAISS index compares these id statistics with the saved index (see
``assetdb.index.sql.open_index``) on every search; computed by aggregating the
space's rows they cost a scan of all of them (20 ms at 100k vectors, 200 ms at 1M on
SQLite), now one row read. The checksum is ``sum((id * 2654435761) % 4294967311)``
(``assetdb.index.params.HASH_MUL`` / ``HASH_MOD``).

SQLite: row triggers (an upsert on insert, an update on delete; cascaded deletes fire
them too). PostgreSQL: statement triggers over transition tables (one update per
statement and space, spaces locked in name order). Note for later migrations: a
``batch_alter_table("vectors")`` on SQLite recreates the table and drops these
triggers; re-create them (``_sqlite_triggers``).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

def _hash(col: str) -> str:
    """The id checksum term, as assetdb.index.params computes it (HASH_MUL, HASH_MOD)."""
    return f"(({col} * 2654435761) % 4294967311)"


SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER vector_stats_ai AFTER INSERT ON vectors BEGIN
        INSERT INTO vector_stats (space, count, id_sum, id_hash)
        VALUES (new.space, 1, new.id, {_hash("new.id")})
        ON CONFLICT (space) DO UPDATE SET count = count + 1,
            id_sum = id_sum + excluded.id_sum, id_hash = id_hash + excluded.id_hash;
    END""",
    f"""CREATE TRIGGER vector_stats_ad AFTER DELETE ON vectors BEGIN
        UPDATE vector_stats SET count = count - 1, id_sum = id_sum - old.id,
            id_hash = id_hash - {_hash("old.id")}
        WHERE space = old.space;
    END""",
    f"""CREATE TRIGGER vector_stats_au AFTER UPDATE OF id, space ON vectors BEGIN
        UPDATE vector_stats SET count = count - 1, id_sum = id_sum - old.id,
            id_hash = id_hash - {_hash("old.id")}
        WHERE space = old.space;
        INSERT INTO vector_stats (space, count, id_sum, id_hash)
        VALUES (new.space, 1, new.id, {_hash("new.id")})
        ON CONFLICT (space) DO UPDATE SET count = count + 1,
            id_sum = id_sum + excluded.id_sum, id_hash = id_hash + excluded.id_hash;
    END""",
)
SQLITE_TRIGGER_NAMES = ("vector_stats_ai", "vector_stats_ad", "vector_stats_au")


def _pg_function(name: str, rows: str, sign: str) -> str:
    return f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT space, count(*) AS n, sum(id)::bigint AS s,
                    sum({_hash("id::bigint")})::bigint AS h
             FROM {rows} GROUP BY space ORDER BY space LOOP
        INSERT INTO vector_stats AS v (space, count, id_sum, id_hash)
        VALUES (r.space, {sign}r.n, {sign}r.s, {sign}r.h)
        ON CONFLICT (space) DO UPDATE SET count = v.count + excluded.count,
            id_sum = v.id_sum + excluded.id_sum, id_hash = v.id_hash + excluded.id_hash;
    END LOOP;
    RETURN NULL;
END $$"""


PG_STATEMENTS = (
    _pg_function("vector_stats_added", "new_rows", ""),
    _pg_function("vector_stats_removed", "old_rows", "-"),
    ("CREATE TRIGGER vector_stats_ai AFTER INSERT ON vectors REFERENCING NEW TABLE AS "
     "new_rows FOR EACH STATEMENT EXECUTE FUNCTION vector_stats_added()"),
    ("CREATE TRIGGER vector_stats_ad AFTER DELETE ON vectors REFERENCING OLD TABLE AS "
     "old_rows FOR EACH STATEMENT EXECUTE FUNCTION vector_stats_removed()"),
    # an update: the old rows removed and the new ones added (a transition table each;
    # sums commute, so the order the two fire in does not matter)
    ("CREATE TRIGGER vector_stats_au_old AFTER UPDATE ON vectors REFERENCING OLD TABLE AS "
     "old_rows FOR EACH STATEMENT EXECUTE FUNCTION vector_stats_removed()"),
    ("CREATE TRIGGER vector_stats_au_new AFTER UPDATE ON vectors REFERENCING NEW TABLE AS "
     "new_rows FOR EACH STATEMENT EXECUTE FUNCTION vector_stats_added()"),
)


def _sqlite_triggers() -> None:
    for name in SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for sql in SQLITE_TRIGGERS:
        op.execute(sql)


def upgrade() -> None:
    op.create_table(
        "vector_stats",
        sa.Column("space", sa.String(length=200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("id_sum", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("id_hash", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("space", name=op.f("pk_vector_stats")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_triggers()
    elif dialect == "postgresql":
        for sql in PG_STATEMENTS:
            op.execute(sql)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"vector statistics are not implemented for {dialect}")
    cast = "::bigint" if dialect == "postgresql" else ""
    op.execute(
        "INSERT INTO vector_stats (space, count, id_sum, id_hash) "
        f"SELECT space, count(*), sum(id){cast}, sum({_hash('id')}){cast} "
        "FROM vectors GROUP BY space"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        for name in ("vector_stats_ai", "vector_stats_ad", "vector_stats_au_old",
                     "vector_stats_au_new"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON vectors")
        for fn in ("vector_stats_added", "vector_stats_removed"):
            op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
    op.drop_table("vector_stats")
