"""request limits and rejections: a refused webhook request keeps only the start of its
body, with its full size, SHA-256 and client address, and refused requests are
tallied per client address and time window (the cap on what one source can store);
rejected bodies stored whole before are cut the same way

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import hashlib

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_CHARACTERS = 4096  # the default of PAYFLOW_REJECTED_BODY_KEEP_BYTES


def upgrade() -> None:
    with op.batch_alter_table('webhook_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('body_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))

    op.create_table(
        'rejection_tally',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('window_start', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('stored', sa.Integer(), nullable=False),
        sa.Column('dropped', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source', 'window_start'),
    )

    # Refused requests stored whole before: keep their start, their size and hash (of
    # the body as it was stored, i.e. decoded as UTF-8).
    connection = op.get_bind()
    event = sa.table(
        'webhook_event',
        sa.column('id', sa.Integer),
        sa.column('status', sa.String),
        sa.column('raw_body', sa.Text),
        sa.column('body_size', sa.Integer),
        sa.column('body_sha256', sa.String),
    )
    last_id = 0
    while True:  # in batches: the inbox can be large
        rows = connection.execute(
            sa.select(event.c.id, event.c.raw_body)
            .where(event.c.status == 'rejected', event.c.id > last_id)
            .order_by(event.c.id)
            .limit(200)
        ).all()
        if not rows:
            break
        for event_id, body in rows:
            data = (body or '').encode('utf-8')
            connection.execute(
                event.update()
                .where(event.c.id == event_id)
                .values(
                    raw_body=(body or '')[:KEEP_CHARACTERS],
                    body_size=len(data),
                    body_sha256=hashlib.sha256(data).hexdigest(),
                )
            )
        last_id = rows[-1][0]


def downgrade() -> None:
    # The cut bodies stay cut: what was dropped is gone.
    op.drop_table('rejection_tally')
    with op.batch_alter_table('webhook_event', schema=None) as batch_op:
        batch_op.drop_column('source')
        batch_op.drop_column('body_sha256')
        batch_op.drop_column('body_size')
