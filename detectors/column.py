"""Running one registered method on one column, with the shared bad-data checks.

Bad data is a result, not a crash: an empty window, a column that is all
missing, unparsable or infinite values, or too few values each produce a
ColumnResult with a status that says what happened and ``drifted=False``.
Only programming or configuration errors (unknown method, a method that
does not fit the column kind, a bad threshold) raise.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from detectors._kinds import ResultStatus
from detectors._outcome import MethodOutcome
from detectors._prepare import PreparedColumn, prepare_categorical, prepare_numeric
from detectors.profile import ColumnProfile
from detectors.registry import MethodSpec, default_method, get_method
from detectors.result import ColumnResult


def test_column(
    profile: ColumnProfile,
    current: pd.Series,
    *,
    method: str | None = None,
    threshold: float | None = None,
) -> ColumnResult:
    """Test ``current`` against a fitted reference ``profile``.

    ``method`` defaults to the kind's default (``default_method``) and
    ``threshold`` to the method's default. ``current`` is never modified.
    Missing values are excluded and counted; infinities in a numeric column
    are excluded and counted; both appear in ``details``.
    """
    spec = get_method(default_method(profile.kind) if method is None else method)
    if profile.kind not in spec.kinds:
        raise ValueError(
            f"method {spec.name!r} cannot test column {profile.column!r} of kind "
            f"{profile.kind!r}; it accepts {sorted(spec.kinds)}"
        )
    level = spec.default_threshold if threshold is None else float(threshold)
    _check_threshold(spec, level)
    prepared = (
        prepare_numeric(current) if profile.kind == "numeric" else prepare_categorical(current)
    )
    outcome = _bad_data_outcome(profile, prepared, spec) or spec.function(profile, prepared, level)
    return ColumnResult(
        column=profile.column,
        method=spec.name,
        statistic=outcome.statistic,
        p_value=outcome.p_value,
        threshold=level,
        drifted=outcome.drifted,
        n_reference=outcome.n_reference,
        n_current=prepared.n_usable,
        status=outcome.status,
        reason=outcome.reason,
        details={**_common_details(profile, prepared), **outcome.details},
    )


# A library function named test_* must not be collected by pytest in user test modules.
test_column.__test__ = False  # type: ignore[attr-defined]


def _check_threshold(spec: MethodSpec, threshold: float) -> None:
    if not math.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold for {spec.name!r} must be a positive number, got {threshold}")
    if spec.has_p_value and threshold >= 1:
        raise ValueError(
            f"threshold for {spec.name!r} is a significance level and must be below 1, "
            f"got {threshold}"
        )


def _bad_data_outcome(
    profile: ColumnProfile, current: PreparedColumn, spec: MethodSpec
) -> MethodOutcome | None:
    """Return the outcome for data that cannot be tested, or None when it can."""
    column = profile.column
    if current.n_total == 0:
        return _untestable(profile, "empty", "current window is empty")
    if current.n_missing == current.n_total:
        return _untestable(
            profile,
            "all_missing",
            f"all {current.n_total} current values of {column!r} are missing",
        )
    if current.n_unparsable:
        return _untestable(
            profile,
            "invalid_values",
            f"column {column!r} is numeric but {current.n_unparsable} current values are not "
            f"numbers, e.g. {list(current.unparsable_examples)}",
        )
    if current.n_usable == 0:
        return _untestable(
            profile,
            "invalid_values",
            f"column {column!r} has no finite current values ({current.n_infinite} infinite)",
        )
    if min(profile.n, current.n_usable) < spec.min_samples:
        return _untestable(
            profile,
            "insufficient_data",
            f"{spec.name} needs at least {spec.min_samples} usable values on each side; "
            f"reference has {profile.n}, current has {current.n_usable}",
        )
    return None


def _untestable(profile: ColumnProfile, status: ResultStatus, reason: str) -> MethodOutcome:
    return MethodOutcome(
        statistic=None,
        p_value=None,
        drifted=False,
        status=status,
        reason=reason,
        n_reference=profile.n,
    )


def _common_details(profile: ColumnProfile, current: PreparedColumn) -> dict[str, Any]:
    details: dict[str, Any] = {
        "n_missing_reference": profile.n_missing,
        "n_missing_current": current.n_missing,
    }
    if profile.kind == "numeric":
        details["n_infinite_reference"] = profile.n_infinite
        details["n_infinite_current"] = current.n_infinite
        details["n_unparsable_current"] = current.n_unparsable
    return details
