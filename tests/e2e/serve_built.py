"""Serves an already built frontend and the backend on one port, as ``reflex run --env
prod`` does once it has built: ``python -m tests.e2e.serve_built PORT``, with
``REFLEX_WEB_WORKDIR`` naming the built web directory and ``GRANIAN_WORKERS`` the
worker count.

Why not ``reflex run`` for each process: it deletes and rebuilds the web directory
first, under the feet of a process already serving it, and ``--backend-only`` serves
no pages. Several hosts would each build their own; the scale-out tests stand in for
them with several processes of one checkout, so they build once (``reflex export``)
and start each process here, through Reflex's own ``run_backend_prod``."""

from __future__ import annotations

import sys

from reflex.utils import exec as reflex_exec
from reflex_base import constants
from reflex_base.config import get_config
from reflex_base.environment import environment


def main(port: int) -> None:
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)  # the build is there already
    config = get_config()
    reflex_exec.run_backend_prod(
        "127.0.0.1", port, config.loglevel.subprocess_level(), mount_frontend_compiled_app=True
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
