"""sound events: AudioSet classes heard per segment (YAMNet)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0009"
# The fixed chain is 0008 (the web proxies) -> 0009. Until 0008 lands on main this
# points at what exists; the merge sets it to "0008".
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sound_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("class_index", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.Column("mean_score", sa.Float(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("curve_t0_ms", sa.BigInteger(), nullable=False),
        sa.Column("curve", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"],
                                name=op.f("fk_sound_events_asset_id_assets"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"],
                                name=op.f("fk_sound_events_segment_id_segments"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sound_events")),
    )
    op.create_index(op.f("ix_sound_events_asset_id"), "sound_events", ["asset_id"])
    op.create_index(op.f("ix_sound_events_segment_id"), "sound_events", ["segment_id"])
    op.create_index(op.f("ix_sound_events_label"), "sound_events", ["label"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sound_events_label"), table_name="sound_events")
    op.drop_index(op.f("ix_sound_events_segment_id"), table_name="sound_events")
    op.drop_index(op.f("ix_sound_events_asset_id"), table_name="sound_events")
    op.drop_table("sound_events")
