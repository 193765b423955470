import reflex as rx

from payflow_app.settings import get_settings

settings = get_settings()
# Behind a reverse proxy (README, "Scaling out") the built pages must open their
# websocket at the public address, not at the port of the host that built them.
frontend_api_url = {"api_url": settings.frontend_api_url} if settings.frontend_api_url else {}

config = rx.Config(
    app_name="payflow_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.SitemapPlugin(), rx.plugins.RadixThemesPlugin()],
    # CORS and the socket.io server answer only our own pages (public URL and
    # PAYFLOW_ALLOWED_ORIGINS): another site cannot call the API or open the websocket
    # with the user's cookie (payflow_app/api/security.py).
    cors_allowed_origins=settings.browser_origins,
    **frontend_api_url,
)
