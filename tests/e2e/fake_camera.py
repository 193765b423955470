"""A fake camera for the check-in scanner: a Y4M video of one QR code that chromium
plays as its webcam when launched with

    --use-fake-device-for-media-stream
    --use-fake-ui-for-media-stream            (grants the camera without a prompt)
    --use-file-for-fake-video-capture=<path>

Chromium loops the file, so a short still video is a camera that keeps showing the
ticket."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

# Of the 4:2:0 layouts chromium's Y4M reader accepts, ``C420jpeg`` matches Pillow's
# YCbCr (JPEG) conversion and a chroma plane averaged over each 2x2 block.
_HEADER = "YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n"
_FPS = 30
# Kept white around a code scaled down to fit, so its quiet zone survives.
_MARGIN = 16


def write_y4m(
    png_bytes: bytes,
    path: str | os.PathLike[str],
    *,
    width: int = 640,
    height: int = 480,
    frames: int = 30,
) -> Path:
    """Write ``frames`` identical frames (30 fps) showing the PNG centered on white,
    scaled down only when it does not fit, and answer the file's path."""
    if width % 2 or height % 2:
        raise ValueError("4:2:0 video needs an even width and height")
    if frames < 1:
        raise ValueError("a video needs at least one frame")
    code = Image.open(io.BytesIO(png_bytes)).convert("RGB")
    room = (width - 2 * _MARGIN, height - 2 * _MARGIN)
    if code.width > room[0] or code.height > room[1]:
        code.thumbnail(room, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (width, height), "white")
    canvas.paste(code, ((width - code.width) // 2, (height - code.height) // 2))

    luma, blue, red = canvas.convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = b"".join(
        [
            b"FRAME\n",
            luma.tobytes(),
            blue.resize(half, Image.Resampling.BOX).tobytes(),
            red.resize(half, Image.Resampling.BOX).tobytes(),
        ]
    )
    target = Path(path)
    with target.open("wb") as out:
        out.write(_HEADER.format(width=width, height=height, fps=_FPS).encode("ascii"))
        for _ in range(frames):
            out.write(frame)
    return target
