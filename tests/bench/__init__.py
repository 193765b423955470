"""Benchmarks (``make bench``): they print figures and assert only correctness."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def fresh_sqlite_database(prefix: str) -> Path:
    """Points the settings at a new, migrated SQLite database in a temporary folder.
    Call it before importing payflow's services: they read the settings once."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["PAYFLOW_DATABASE_URL"] = f"sqlite:///{work / 'bench.db'}"
    os.environ["PAYFLOW_DATA_DIR"] = str(work / "data")
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=root, check=True, capture_output=True
    )
    return work
