"""order references and redaction: every order gets an unguessable public reference
(customer-facing URLs carry it instead of the row id), and credentials already stored
in webhook headers are redacted

Revision ID: 0007
Revises: 0006
"""
from collections.abc import Sequence

import secrets

import sqlalchemy as sa
import sqlmodel
from alembic import op

from payflow_app.core.redaction import scrub_headers_json


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))

    connection = op.get_bind()
    # Orders placed before references existed get one; their old numeric links stop working.
    order = sa.table('order', sa.column('id', sa.Integer), sa.column('public_id', sa.String))
    for (order_id,) in connection.execute(sa.select(order.c.id)).all():
        connection.execute(
            order.update().where(order.c.id == order_id).values(public_id='ord_' + secrets.token_urlsafe(16))
        )

    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False)
        batch_op.create_unique_constraint('uq_order_public_id', ['public_id'])

    # Webhook headers stored before redaction kept the UnivaPay Authorization secret (and
    # any other credential a sender put in a header): scrub them in place.
    event = sa.table('webhook_event', sa.column('id', sa.Integer), sa.column('headers', sa.Text))
    last_id = 0
    while True:  # in batches: the inbox can be large
        rows = connection.execute(
            sa.select(event.c.id, event.c.headers).where(event.c.id > last_id).order_by(event.c.id).limit(500)
        ).all()
        if not rows:
            break
        for event_id, headers in rows:
            scrubbed = scrub_headers_json(headers)
            if scrubbed != headers:
                connection.execute(event.update().where(event.c.id == event_id).values(headers=scrubbed))
        last_id = rows[-1][0]


def downgrade() -> None:
    # The redacted credentials are gone for good: nothing to restore there.
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.drop_constraint('uq_order_public_id', type_='unique')
        batch_op.drop_column('public_id')
