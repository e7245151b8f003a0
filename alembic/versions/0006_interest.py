"""interest: per-second interestingness curves and per-shot summaries

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interest_curves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("t0_s", sa.Float(), nullable=False),
        sa.Column("hop_s", sa.Float(), nullable=False),
        sa.Column("sample_fps", sa.Float(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("audio_state", sa.String(length=16), nullable=False),
        sa.Column("audio_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_interest_curves_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interest_curves")),
        sa.UniqueConstraint("asset_id", name=op.f("uq_interest_curves_asset_id")),
    )
    op.create_table(
        "interest_shots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_interest_shots_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_interest_shots_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interest_shots")),
        sa.UniqueConstraint("segment_id", name=op.f("uq_interest_shots_segment_id")),
    )
    with op.batch_alter_table("interest_shots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interest_shots_asset_id"), ["asset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("interest_shots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interest_shots_asset_id"))
    op.drop_table("interest_shots")
    op.drop_table("interest_curves")
