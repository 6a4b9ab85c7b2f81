"""Shared data for the detectors tests.

The repository is not installed into the venv and pyproject sets no
``pythonpath``, so the repository root is put on ``sys.path`` here; that
lets ``import detectors`` resolve to the package under test from any
working directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPOSITORY_ROOT = str(Path(__file__).resolve().parents[2])
if _REPOSITORY_ROOT not in sys.path:
    sys.path.insert(0, _REPOSITORY_ROOT)
