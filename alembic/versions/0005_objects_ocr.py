"""objects and OCR: detections, per-shot object aggregate, OCR lines

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0005"
# The fixed chain is 0004 -> 0005 (0004 = sound is here now; 0002/0003 not yet).
down_revision = "0004"
branch_labels = None
depends_on = None


def _fks(table: str) -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f(f"fk_{table}_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f(f"fk_{table}_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _box() -> list[sa.Column]:
    return [sa.Column(c, sa.Float(), nullable=False) for c in ("x1", "y1", "x2", "y2")]


def upgrade() -> None:
    op.create_table(
        "object_detections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        *_box(),
        sa.Column("detector", sa.String(length=64), nullable=False),
        *_fks("object_detections"),
    )
    op.create_index(
        "ix_object_detections_asset_segment", "object_detections", ["asset_id", "segment_id"]
    )
    op.create_table(
        "segment_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        *_fks("segment_objects"),
    )
    op.create_index("ix_segment_objects_asset", "segment_objects", ["asset_id"])
    op.create_index(
        "ix_segment_objects_label_segment", "segment_objects", ["label", "segment_id"]
    )
    op.create_table(
        "ocr_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("last_t_s", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("norm", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        *_box(),
        *_fks("ocr_lines"),
    )
    op.create_index("ix_ocr_lines_asset_segment", "ocr_lines", ["asset_id", "segment_id"])


def downgrade() -> None:
    op.drop_index("ix_ocr_lines_asset_segment", table_name="ocr_lines")
    op.drop_table("ocr_lines")
    op.drop_index("ix_segment_objects_label_segment", table_name="segment_objects")
    op.drop_index("ix_segment_objects_asset", table_name="segment_objects")
    op.drop_table("segment_objects")
    op.drop_index("ix_object_detections_asset_segment", table_name="object_detections")
    op.drop_table("object_detections")
