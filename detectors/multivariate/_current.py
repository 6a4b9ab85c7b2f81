"""Checking and encoding a current window for a whole-row test.

Bad data is a result, not a crash: an empty window, unparsable numbers or a
window in which every value is missing gives a status and a reason. A window
that lacks a profiled column raises ValueError naming the columns, because
that is a configuration or schema error the caller must fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors._kinds import ResultStatus
from detectors.multivariate.profile import MultivariateProfile
from detectors.result import ColumnResult


@dataclass(frozen=True, kw_only=True)
class CurrentRows:
    """The encoded rows a test uses and the details every whole-row result reports."""

    matrix: npt.NDArray[np.float64]
    details: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Untestable:
    """Why a window could not be tested."""

    status: ResultStatus
    reason: str
    n_current: int
    details: dict[str, Any]


def check_max_rows(max_rows: int) -> None:
    if max_rows < 2:
        raise ValueError(f"max_rows must be at least 2, got {max_rows}")


def subsample(n_rows: int, max_rows: int, rng: np.random.Generator) -> npt.NDArray[np.intp]:
    """All positions, or ``max_rows`` of them drawn uniformly without replacement (sorted)."""
    if n_rows <= max_rows:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False))


def prepare_current(
    profile: MultivariateProfile,
    current: pd.DataFrame,
    *,
    max_rows: int,
    min_rows: int,
    rng: np.random.Generator,
) -> CurrentRows | Untestable:
    """Encode a uniform subsample of at most ``max_rows`` rows of ``current``.

    Counts refer to the rows used. Missing and infinite values are imputed by
    the encoding and counted; unparsable numbers make the window untestable.
    """
    names = [name for name, _ in profile.columns]
    missing_columns = [name for name in names if name not in current.columns]
    if missing_columns:
        raise ValueError(
            f"current frame lacks profiled columns {missing_columns}; "
            f"it has {list(current.columns)}"
        )
    n_total = len(current)
    base: dict[str, Any] = {"n_rows_current": n_total, "dimensions": profile.width}
    if n_total == 0:
        return Untestable(
            status="empty", reason="current window is empty", n_current=0, details=base
        )
    positions = subsample(n_total, max_rows, rng)
    encoded = profile.encode_rows(current, positions)
    n_used = int(positions.size)
    details = {
        **base,
        "current_subsampled": n_used < n_total,
        "n_missing_current": encoded.n_missing,
        "n_infinite_current": encoded.n_infinite,
        "n_unparsable_current": encoded.n_unparsable,
        "n_all_missing_rows_current": int(encoded.all_missing.sum()),
    }
    if encoded.n_unparsable:
        described = ", ".join(
            f"{column!r} ({count}, e.g. {encoded.unparsable_examples[column]})"
            for column, count in encoded.n_unparsable.items()
        )
        return Untestable(
            status="invalid_values",
            reason=f"numeric columns have current values that are not numbers: {described}",
            n_current=n_used,
            details=details,
        )
    if encoded.all_missing.all():
        return Untestable(
            status="all_missing",
            reason=f"every value of the {n_used} current rows used is missing",
            n_current=n_used,
            details=details,
        )
    if n_used < min_rows:
        return Untestable(
            status="insufficient_data",
            reason=f"the test needs at least {min_rows} current rows, got {n_used}",
            n_current=n_used,
            details=details,
        )
    return CurrentRows(matrix=encoded.matrix, details=details)


def untestable_result(
    untestable: Untestable, *, method: str, threshold: float, n_reference: int
) -> ColumnResult:
    return ColumnResult(
        column="*",
        method=method,
        statistic=None,
        p_value=None,
        threshold=threshold,
        drifted=False,
        n_reference=n_reference,
        n_current=untestable.n_current,
        status=untestable.status,
        reason=untestable.reason,
        details=untestable.details,
    )
