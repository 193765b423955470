"""memberships card and mpesa payments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 01:21:29.908590
"""
from collections.abc import Sequence

import secrets

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('plan_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('password_reveal', sa.Text(), nullable=True),
    sa.Column('reveal_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('valid_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['order.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_id')
    )
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_membership_username'), ['username'], unique=True)

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('payer_phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column('sync_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_sync_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('next_sync_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('sync_locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_payment_next_sync_at'), ['next_sync_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_payer_phone'), ['payer_phone'], unique=False)
        batch_op.create_unique_constraint('uq_payment_public_id', ['public_id'])

    # Payments made before public ids existed get one, so every payment has a paymentId.
    payment = sa.table('payment', sa.column('id', sa.Integer), sa.column('public_id', sa.String))
    connection = op.get_bind()
    for (payment_id,) in connection.execute(sa.select(payment.c.id)).all():
        connection.execute(
            payment.update()
            .where(payment.c.id == payment_id)
            .values(public_id='pay_' + secrets.token_urlsafe(16))
        )



def downgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_constraint('uq_payment_public_id', type_='unique')
        batch_op.drop_index(batch_op.f('ix_payment_payer_phone'))
        batch_op.drop_index(batch_op.f('ix_payment_next_sync_at'))
        batch_op.drop_column('sync_locked_until')
        batch_op.drop_column('next_sync_at')
        batch_op.drop_column('last_sync_attempt_at')
        batch_op.drop_column('sync_attempts')
        batch_op.drop_column('payer_phone')
        batch_op.drop_column('public_id')

    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_username'))
        batch_op.drop_index(batch_op.f('ix_membership_user_id'))

    op.drop_table('membership')
