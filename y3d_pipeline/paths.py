"""Filesystem locations of the project's local state."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    """Where the embedded database and other local state live (``.y3d/`` in the project root)."""
    return Path(os.environ.get("Y3D_STATE_DIR", PROJECT_ROOT / ".y3d"))
