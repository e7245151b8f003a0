"""faces: persons, faces, face_rejections

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:50:00

down_revision chains to 0002 (search/FTS) as fixed by the project's migration order.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('persons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('representative_face_id', sa.Integer(), nullable=True),
    sa.Column('is_anchor', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persons')),
    sa.UniqueConstraint('name', name=op.f('uq_persons_name'))
    )
    op.create_table('faces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('segment_index', sa.Integer(), nullable=True),
    sa.Column('t_ms', sa.BigInteger(), nullable=False),
    sa.Column('frame_ts', sa.BigInteger(), nullable=True),
    sa.Column('frame_width', sa.Integer(), nullable=False),
    sa.Column('frame_height', sa.Integer(), nullable=False),
    sa.Column('box_x', sa.Integer(), nullable=False),
    sa.Column('box_y', sa.Integer(), nullable=False),
    sa.Column('box_w', sa.Integer(), nullable=False),
    sa.Column('box_h', sa.Integer(), nullable=False),
    sa.Column('detector', sa.String(length=16), nullable=False),
    sa.Column('det_score', sa.Float(), nullable=False),
    sa.Column('size_px', sa.Integer(), nullable=False),
    sa.Column('sharpness', sa.Float(), nullable=False),
    sa.Column('frontalness', sa.Float(), nullable=False),
    sa.Column('quality', sa.Float(), nullable=False),
    sa.Column('low_quality', sa.Boolean(), nullable=False),
    sa.Column('frames_seen', sa.Integer(), nullable=False),
    sa.Column('crop_path', sa.Text(), nullable=True),
    sa.Column('embedding', sa.LargeBinary(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('assignment', sa.String(length=8), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_faces_asset_id_assets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_faces_person_id_persons'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_faces_segment_id_segments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faces'))
    )
    with op.batch_alter_table('faces', schema=None) as batch_op:
        batch_op.create_index('ix_faces_asset_frame', ['asset_id', 't_ms'], unique=False)
        batch_op.create_index(batch_op.f('ix_faces_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_faces_segment_id'), ['segment_id'], unique=False)

    op.create_table('face_rejections',
    sa.Column('face_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['face_id'], ['faces.id'], name=op.f('fk_face_rejections_face_id_faces'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_face_rejections_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('face_id', 'person_id', name=op.f('pk_face_rejections'))
    )
    with op.batch_alter_table('face_rejections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_rejections_person_id'), ['person_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('face_rejections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_rejections_person_id'))

    op.drop_table('face_rejections')
    with op.batch_alter_table('faces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_faces_segment_id'))
        batch_op.drop_index(batch_op.f('ix_faces_person_id'))
        batch_op.drop_index('ix_faces_asset_frame')

    op.drop_table('faces')
    op.drop_table('persons')
