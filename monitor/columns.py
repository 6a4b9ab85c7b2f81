"""What a monitor's data must hold: the configured columns, or a clear error naming them."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


class DataError(Exception):
    """The data cannot be tested as configured (e.g. a configured column is absent)."""


def require_columns(frame: pd.DataFrame, names: Sequence[str], what: str) -> None:
    require_names(list(frame.columns), names, what)


def require_names(found: Sequence[object], names: Sequence[str], what: str) -> None:
    """``require_columns`` of the column names a source reports (``found``)."""
    missing = [name for name in names if name not in found]
    if missing:
        listed = ", ".join(f'"{name}"' for name in missing)
        shown = ", ".join(map(str, found)) or "none"
        raise DataError(f"{what} has no column {listed} (columns found: {shown})")
