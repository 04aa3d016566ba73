"""Helpers shared by the integration tests."""

from __future__ import annotations

import os


def repo_root() -> str:
    """The repository's top folder."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
