"""QR images of ticket tokens: PNG bytes for emails and the ticket API, a data URI for pages."""

from __future__ import annotations

import base64
import io
from functools import lru_cache

import qrcode
from qrcode.constants import ERROR_CORRECT_H


def qr_png(data: str, *, box_size: int = 6) -> bytes:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_H, box_size=box_size, border=2)
    qr.add_data(data)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


@lru_cache(maxsize=512)
def qr_data_uri(data: str) -> str:
    """Cached: a token never changes, and the live page re-reads it on every push."""
    return "data:image/png;base64," + base64.b64encode(qr_png(data)).decode()
