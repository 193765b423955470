"""Event pictures: an organizer's upload, checked to really be an image, stored in
the data directory under a random name and served by ``GET /api/event-images/{name}``.
The name is the only thing the event row keeps."""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from payflow_app.core.errors import InvalidInput
from payflow_app.settings import get_settings

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a small file can declare a huge image (a decompression bomb)
FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "WEBP": ("webp", "image/webp")}
_NAME = re.compile(r"^[A-Za-z0-9_-]{16,40}\.(png|jpg|webp)$")


def _folder() -> Path:
    return Path(get_settings().data_dir) / "event_images"


def store(data: bytes) -> str:
    """Keep an uploaded picture; answer its name. InvalidInput when it is not a PNG,
    JPEG or WebP image of at most 5 MB."""
    if len(data) > MAX_BYTES:
        raise InvalidInput({"image": "The picture is larger than 5 MB."})
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind = FORMATS.get(image.format or "")
            pixels = image.width * image.height
    except Image.DecompressionBombError:
        kind, pixels = None, MAX_PIXELS + 1
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        kind, pixels = None, 0
    if pixels > MAX_PIXELS:
        raise InvalidInput({"image": "The picture is larger than 40 megapixels."})
    if kind is None:
        raise InvalidInput({"image": "Upload a PNG, JPEG or WebP picture."})
    name = f"{secrets.token_urlsafe(16)}.{kind[0]}"
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return name


def load(name: str) -> tuple[bytes, str] | None:
    """The picture's bytes and media type; None for a name that is not one of ours."""
    if not _NAME.fullmatch(name):
        return None
    path = _folder() / name
    if not path.is_file():
        return None
    media = next(m for ext, m in FORMATS.values() if name.endswith("." + ext))
    return path.read_bytes(), media


def url(name: str) -> str:
    return f"/api/event-images/{name}"
