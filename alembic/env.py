from logging.config import fileConfig

from sqlmodel import SQLModel

import payflow_app.models  # noqa: F401  (registers the tables)
from alembic import context
from payflow_app.core.db import get_engine

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    with get_engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("payflow migrations run online only")
run_migrations_online()
