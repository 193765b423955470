"""accounts wallet galleries emails

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:29:43.188999
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('gallery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('locked_by_payment_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gallery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gallery_user_id'), ['user_id'], unique=False)

    op.create_table('wallet',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('balance_minor', sa.Integer(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'currency')
    )
    with op.batch_alter_table('wallet', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wallet_user_id'), ['user_id'], unique=False)

    op.create_table('ledger_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wallet_id', sa.Integer(), nullable=False),
    sa.Column('entry_type', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('balance_after_minor', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['order.id'], ),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], ),
    sa.ForeignKeyConstraint(['wallet_id'], ['wallet.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('payment_id')
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entry_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_wallet_id'), ['wallet_id'], unique=False)

    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False, server_default='en'))
        batch_op.add_column(sa.Column('body_html', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('inline_images', sa.Text(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('transport', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False, server_default=sa.func.current_timestamp()))
        batch_op.add_column(sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_email_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_email_outbox_status'), ['status'], unique=False)

    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gallery_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('plan_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.alter_column('event_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.alter_column('ticket_type_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_order_gallery_id'), ['gallery_id'], unique=False)
        batch_op.create_foreign_key('fk_order_gallery_id', 'gallery', ['gallery_id'], ['id'])
        # Fulfilment's steps 3 and 4, now named for every kind of order.
        batch_op.alter_column('tickets_issued_at', new_column_name='delivered_at')
        batch_op.alter_column('confirmation_sent_at', new_column_name='completed_at')

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_number', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('password_version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False, server_default='en'))
        batch_op.add_column(sa.Column('plan_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default='free'))
        batch_op.add_column(sa.Column('storage_limit_mb', sa.Integer(), nullable=False, server_default='500'))
        batch_op.add_column(sa.Column('gallery_limit', sa.Integer(), nullable=False, server_default='1'))



def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('gallery_limit')
        batch_op.drop_column('storage_limit_mb')
        batch_op.drop_column('plan_code')
        batch_op.drop_column('language')
        batch_op.drop_column('password_version')
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('password_hash')

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_column('receipt_number')

    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.alter_column('delivered_at', new_column_name='tickets_issued_at')
        batch_op.alter_column('completed_at', new_column_name='confirmation_sent_at')
        batch_op.drop_constraint('fk_order_gallery_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_order_gallery_id'))
        batch_op.alter_column('ticket_type_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.alter_column('event_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('plan_code')
        batch_op.drop_column('gallery_id')

    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_outbox_status'))
        batch_op.drop_index(batch_op.f('ix_email_outbox_next_attempt_at'))
        batch_op.drop_column('last_error')
        batch_op.drop_column('locked_until')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('transport')
        batch_op.drop_column('inline_images')
        batch_op.drop_column('body_html')
        batch_op.drop_column('language')

    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entry_wallet_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entry_order_id'))

    op.drop_table('ledger_entry')
    with op.batch_alter_table('wallet', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wallet_user_id'))

    op.drop_table('wallet')
    with op.batch_alter_table('gallery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gallery_user_id'))

    op.drop_table('gallery')
