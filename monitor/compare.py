"""`driftwarden compare`: two files, column by column, nothing stored (a CI gate with no config)."""

from __future__ import annotations

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from detectors import ColumnKind, ColumnResult, apply_correction, compare_column, fit_profile


class CompareError(Exception):
    """The two files cannot be compared; the message names the column or file."""


def column_kind(values: pd.Series) -> ColumnKind:
    """Numbers are numeric; everything else (strings, booleans, categories) is categorical."""
    if is_numeric_dtype(values) and not is_bool_dtype(values):
        return "numeric"
    return "categorical"


def compare_frames(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    alpha: float = 0.05,
) -> list[ColumnResult]:
    names = columns if columns is not None else [str(c) for c in reference.columns]
    for name in names:
        for label, frame in (("reference", reference), ("current", current)):
            if name not in frame.columns:
                found = ", ".join(map(str, frame.columns)) or "none"
                raise CompareError(f'{label} has no column "{name}" (columns found: {found})')
    results = []
    for name in names:
        # A column the tests cannot take (lists, structs, bytes) is refused by name.
        try:
            profile = fit_profile(reference[name], column_kind(reference[name]))
        except ValueError as exc:
            raise CompareError(f"reference: {exc}") from None
        try:
            results.append(compare_column(profile, current[name]))
        except ValueError as exc:
            raise CompareError(f"current: {exc}") from None
    return apply_correction(results, alpha=alpha, correction="bh")
