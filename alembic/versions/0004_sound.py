"""sound: audio tracks, per-segment audio features, transcripts

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0004"
# The fixed chain is 0003 -> 0004. Until 0002/0003 land on main this points at
# what exists; the merge sets it to "0003".
down_revision = "0001"
branch_labels = None
depends_on = None


def _asset_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["asset_id"], ["assets.id"], name=op.f(f"fk_{table}_asset_id_assets"), ondelete="CASCADE"
    )


def _segment_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["segment_id"],
        ["segments.id"],
        name=op.f(f"fk_{table}_segment_id_segments"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "audio_tracks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("stream_index", sa.Integer(), nullable=True),
        sa.Column("codec", sa.String(length=64), nullable=True),
        sa.Column("source_rate", sa.Integer(), nullable=True),
        sa.Column("channels", sa.Integer(), nullable=True),
        sa.Column("layout", sa.String(length=64), nullable=True),
        sa.Column("sample_rate", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("decode_errors", sa.Integer(), nullable=False),
        sa.Column("loudness_lufs", sa.Float(), nullable=True),
        sa.Column("peak_dbfs", sa.Float(), nullable=True),
        sa.Column("speech_ratio", sa.Float(), nullable=True),
        sa.Column("silence_ratio", sa.Float(), nullable=True),
        sa.Column("vad_model", sa.String(length=64), nullable=True),
        _asset_fk("audio_tracks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audio_tracks")),
        sa.UniqueConstraint("asset_id", name=op.f("uq_audio_tracks_asset_id")),
    )
    op.create_table(
        "audio_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("loudness_lufs", sa.Float(), nullable=True),
        sa.Column("rms_dbfs", sa.Float(), nullable=True),
        sa.Column("peak_dbfs", sa.Float(), nullable=True),
        sa.Column("centroid_hz", sa.Float(), nullable=True),
        sa.Column("centroid_std_hz", sa.Float(), nullable=True),
        sa.Column("contrast_db", sa.JSON(), nullable=False),
        sa.Column("onset_rate", sa.Float(), nullable=True),
        sa.Column("speech_ratio", sa.Float(), nullable=True),
        sa.Column("silence_ratio", sa.Float(), nullable=True),
        sa.Column("other_ratio", sa.Float(), nullable=True),
        sa.Column("rms_curve_dbfs", sa.JSON(), nullable=False),
        sa.Column("speech_curve", sa.JSON(), nullable=False),
        sa.Column("mfcc_raw", sa.LargeBinary(), nullable=True),
        _asset_fk("audio_segments"),
        _segment_fk("audio_segments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audio_segments")),
    )
    with op.batch_alter_table("audio_segments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audio_segments_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audio_segments_segment_id"), ["segment_id"], unique=False
        )
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("language_probability", sa.Float(), nullable=True),
        sa.Column("speech_ms", sa.BigInteger(), nullable=True),
        sa.Column("segment_count", sa.Integer(), nullable=False),
        _asset_fk("transcripts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcripts")),
        sa.UniqueConstraint("asset_id", name=op.f("uq_transcripts_asset_id")),
    )
    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("avg_logprob", sa.Float(), nullable=True),
        sa.Column("no_speech_prob", sa.Float(), nullable=True),
        _asset_fk("transcript_segments"),
        _segment_fk("transcript_segments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_segments")),
    )
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transcript_segments_asset_id"), ["asset_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transcript_segments_segment_id"), ["segment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcript_segments_segment_id"))
        batch_op.drop_index(batch_op.f("ix_transcript_segments_asset_id"))
    op.drop_table("transcript_segments")
    op.drop_table("transcripts")
    with op.batch_alter_table("audio_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audio_segments_segment_id"))
        batch_op.drop_index(batch_op.f("ix_audio_segments_asset_id"))
    op.drop_table("audio_segments")
    op.drop_table("audio_tracks")
