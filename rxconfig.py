import reflex as rx

from payflow_app.settings import get_settings

config = rx.Config(
    app_name="payflow_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.SitemapPlugin(), rx.plugins.RadixThemesPlugin()],
    # CORS and the socket.io server answer only our own pages (public URL and
    # PAYFLOW_ALLOWED_ORIGINS): another site cannot call the API or open the websocket
    # with the user's cookie (payflow_app/api/security.py).
    cors_allowed_origins=get_settings().browser_origins,
)
