"""Secrets generated on first use into the data directory (development and sandbox
only: production settings require them configured)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def generated_secret(data_dir: str, name: str, generate: Callable[[], bytes]) -> str:
    """The content of ``data_dir/name``, created once (atomically, mode 0600)."""
    path = Path(data_dir) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(generate())
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text()
