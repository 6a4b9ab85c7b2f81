"""What a monitor's data must hold: the configured columns, or a clear error naming them."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


class DataError(Exception):
    """The data cannot be tested as configured (e.g. a configured column is absent)."""


def require_columns(frame: pd.DataFrame, names: Sequence[str], what: str) -> None:
    missing = [name for name in names if name not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        listed = ", ".join(f'"{name}"' for name in missing)
        raise DataError(f"{what} has no column {listed} (columns found: {found})")
