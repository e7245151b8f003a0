"""paths and frames: normalised absolute asset paths; integers where numpy wrote blobs

Asset paths were stored as given after ``Path.absolute()``, so ``ingest ../media`` kept
``..`` in them; they become ``os.path.abspath``-style (``.`` and ``..`` removed,
symlinks kept). Where the normalised path is already stored (the same file ingested
twice) the row with the un-normalised path is deleted (with what hangs off it) when both
hold the same content, else left as it is.

On SQLite, numpy integers (keyframe ``frame`` and the like) were stored as 8-byte
blobs; every integer column holding a blob gets the integer back.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import logging
import os
import posixpath

import sqlalchemy as sa

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _normal_text(path: str) -> str:
    return posixpath.normpath(path) if path.startswith("/") else path


def _normal_bytes(raw: bytes | None) -> bytes | None:
    if not raw:
        return raw
    return os.path.normpath(raw) if raw.startswith(b"/") else raw


def _delete_asset(conn: sa.Connection, asset_id: int) -> None:
    """Delete an asset and what hangs off it. PostgreSQL cascades; SQLite migrations run
    with foreign keys off (alembic/env.py), so its ON DELETE actions are done here."""
    if conn.dialect.name == "sqlite":
        _sqlite_cascade(conn, "assets", "id", [asset_id])
    conn.execute(sa.text("DELETE FROM assets WHERE id = :i"), {"i": asset_id})


def _sqlite_cascade(conn: sa.Connection, table: str, column: str, values: list) -> None:
    """Apply the ON DELETE actions of the rows of ``table`` whose ``column`` is in
    ``values`` (children first), as SQLite would with foreign keys on."""
    if not values:
        return
    tables = [r[0] for r in conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table'")]
    for child in tables:
        for fk in conn.exec_driver_sql(f'PRAGMA foreign_key_list("{child}")').fetchall():
            _id, _seq, parent, src, dst, _upd, on_delete = fk[:7]
            if parent != table:
                continue
            keys = [r[0] for r in conn.execute(
                sa.text(f'SELECT "{dst or "id"}" FROM "{table}" WHERE "{column}" IN :v')
                .bindparams(sa.bindparam("v", expanding=True)), {"v": values})]
            if not keys:
                continue
            sel = sa.bindparam("k", expanding=True)
            if on_delete.upper() == "CASCADE":
                ids = [r[0] for r in conn.execute(
                    sa.text(f'SELECT rowid FROM "{child}" WHERE "{src}" IN :k')
                    .bindparams(sel), {"k": keys})]
                _sqlite_cascade(conn, child, "rowid", ids)
                conn.execute(sa.text(f'DELETE FROM "{child}" WHERE "{src}" IN :k')
                             .bindparams(sa.bindparam("k", expanding=True)), {"k": keys})
            elif on_delete.upper() == "SET NULL":
                conn.execute(sa.text(f'UPDATE "{child}" SET "{src}" = NULL WHERE "{src}" IN :k')
                             .bindparams(sa.bindparam("k", expanding=True)), {"k": keys})


def _normalise_paths(conn: sa.Connection) -> None:
    assets = sa.table(
        "assets", sa.column("id", sa.Integer), sa.column("path", sa.Text),
        sa.column("path_bytes", sa.LargeBinary), sa.column("content_hash", sa.String),
    )  # fmt: skip
    rows = conn.execute(
        sa.select(assets.c.id, assets.c.path, assets.c.path_bytes, assets.c.content_hash)
        .where(sa.or_(assets.c.path.like("%/./%"), assets.c.path.like("%/../%"),
                      assets.c.path.like("%//%"), assets.c.path.like("%/.."),
                      assets.c.path.like("%/.")))
    ).all()  # fmt: skip
    for aid, path, raw, digest in rows:
        new = _normal_text(path)
        if new == path:
            continue
        other = conn.execute(
            sa.select(assets.c.id, assets.c.content_hash).where(assets.c.path == new)
        ).first()
        if other is None:
            conn.execute(assets.update().where(assets.c.id == aid)
                         .values(path=new, path_bytes=_normal_bytes(raw)))
        elif other.content_hash == digest:
            _delete_asset(conn, aid)
        else:
            log.warning("asset %s: %s is also stored as %s; left as it is", aid, path, new)


def _blob_integers(conn: sa.Connection) -> None:
    insp = sa.inspect(conn)
    for table in insp.get_table_names():
        cols = [c["name"] for c in insp.get_columns(table)
                if isinstance(c["type"], sa.Integer)]
        pk = insp.get_pk_constraint(table).get("constrained_columns") or []
        if len(pk) != 1:
            continue
        for col in cols:
            rows = conn.exec_driver_sql(
                f'SELECT "{pk[0]}", "{col}" FROM "{table}" WHERE typeof("{col}") = \'blob\''
            ).all()
            for key, blob in rows:
                value = int.from_bytes(bytes(blob), "little", signed=True)
                conn.exec_driver_sql(
                    f'UPDATE "{table}" SET "{col}" = ? WHERE "{pk[0]}" = ?', (value, key)
                )


def upgrade() -> None:
    conn = op.get_bind()
    _normalise_paths(conn)
    if conn.dialect.name == "sqlite":
        _blob_integers(conn)


def downgrade() -> None:
    # normalised paths and integers are what older code reads as well
    pass
