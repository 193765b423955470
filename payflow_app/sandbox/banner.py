"""The strip every sandbox page opens with: it says no real money moves, and links
to the fault knobs."""

from __future__ import annotations

BANNER = (
    '<div class="banner" role="status">Sandbox — no real money'
    ' · <a href="/sandbox/faults">Fault knobs</a></div>'
)
