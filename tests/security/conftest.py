"""The security tests use the integration suite's real HTTP server (``server``, ``http``)
and the in-process app on a seeded database (``app_client``, see ``inprocess.py``)."""

from tests.integration.conftest import free_port, http, server, wait_until  # noqa: F401
from tests.security.inprocess import app_client, seeded_template  # noqa: F401
