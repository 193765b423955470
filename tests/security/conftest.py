"""The security tests use the integration suite's real HTTP server (``server``, ``http``)."""

from tests.integration.conftest import free_port, http, server, wait_until  # noqa: F401
