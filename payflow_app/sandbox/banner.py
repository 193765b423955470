"""The strip every sandbox page opens with: it says no real money moves, and links
to the fault knobs."""

from __future__ import annotations

import html

from payflow_app.sandbox.texts import text


def banner(lang: str) -> str:
    return (
        f'<div class="banner" role="status">{html.escape(text(lang, "banner"))}'
        f' · <a href="/sandbox/faults">{html.escape(text(lang, "banner.faults"))}</a></div>'
    )
