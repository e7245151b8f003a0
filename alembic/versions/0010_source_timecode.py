"""source timecode: the start timecode, its drop-frame flag and the reel of each asset

``start_tc_frames`` counts frames at the nominal rate from 00:00:00:00 (what
``assetdb.timecode`` adds to a frame in the file); existing rows start at 0 and count
drop-frame at 29.97/59.94, as they were shown before. Re-ingest reads the real values.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("start_tc_frames", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("tc_drop", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("reel", sa.String(length=128), nullable=True))
    rate = "CAST(frame_rate_num AS FLOAT) / frame_rate_den"
    op.execute(
        f"UPDATE assets SET tc_drop = {'true' if op.get_bind().dialect.name != 'sqlite' else '1'} "
        f"WHERE frame_rate_den > 0 AND (({rate}) BETWEEN 29.965 AND 29.975 "
        f"OR ({rate}) BETWEEN 59.935 AND 59.945)"
    )


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("reel")
        batch.drop_column("tc_drop")
        batch.drop_column("start_tc_frames")
