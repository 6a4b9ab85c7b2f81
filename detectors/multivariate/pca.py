"""PCA reconstruction error of current rows under the reference's principal components.

The reference's encoded rows mostly lie near a low-dimensional subspace
when its columns are related (the fewest principal components explaining
65% of the variance, by default). Rows that break those relations land off
the subspace, and their squared distance to it, the reconstruction error,
grows; rows whose noise shrinks, or a column that collapses to one value,
land nearer the subspace, and the error falls. Both are drift, so the test
is two-sided. The statistic is the mean error of the current rows used;
there is no p-value. Drifted when that mean is below the lower or above the
upper bound for an unchanged window of the same size at ``level``, from a
seeded bootstrap of the reference's held-out errors (see
``MultivariateProfile.reconstruction_bounds``).

>>> import numpy as np
>>> import pandas as pd
>>> from detectors.multivariate import fit_multivariate, compare_pca_reconstruction
>>> rng = np.random.default_rng(5)
>>> x = rng.normal(size=500)
>>> reference = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.2, size=500)})
>>> profile = fit_multivariate(reference, [("x", "numeric"), ("y", "numeric")])
>>> x = rng.normal(size=200)
>>> broken = pd.DataFrame({"x": x, "y": rng.normal(size=200)})
>>> result = compare_pca_reconstruction(profile, broken, level=1e-4)
>>> result.drifted, round(result.statistic, 3)
(True, 0.964)
>>> result.reason
'mean reconstruction error 0.964 > upper bound 0.03271 (two-sided, level 0.0001; lower 0.01173)'
>>> tighter = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.05, size=200)})
>>> result = compare_pca_reconstruction(profile, tighter, level=1e-4)
>>> result.drifted, result.details["side"]
(True, 'lower')
>>> result.reason
'mean reconstruction error 0.001608 < lower bound 0.01173 (two-sided, level 0.0001; upper 0.03271)'
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from detectors._outcome import format_number
from detectors.multivariate._current import (
    CurrentRows,
    check_max_rows,
    prepare_current,
    untestable_result,
)
from detectors.multivariate._pca import ReconstructionBounds, reconstruction_errors
from detectors.multivariate.profile import MultivariateProfile
from detectors.result import ColumnResult

METHOD = "pca_reconstruction"


def compare_pca_reconstruction(
    profile: MultivariateProfile,
    current: pd.DataFrame,
    *,
    level: float = 0.01,
    max_rows: int = 2000,
    seed: int = 0,
) -> ColumnResult:
    """Compare the mean reconstruction error of ``current`` rows with two-sided bounds.

    Drifted when the mean error is below ``lower`` or above ``upper``, the
    ``level/2`` and ``1 - level/2`` quantiles of an unchanged window's mean
    error for the ``n`` current rows used (``profile.reconstruction_bounds``):
    so an unchanged window alarms with probability about ``level``. The
    result's ``threshold`` is the bound on the side of the statistic (the
    crossed one when drifted; the lower one when the mean is below the middle
    of the bounds, else the upper one) and ``details`` hold ``side``
    (``"lower"``/``"upper"``), ``lower_bound``, ``upper_bound``, ``level`` and
    ``bound_method`` (``"bootstrap"``, or ``"normal"`` for levels below 0.01).
    ``details["effect"]`` is the ratio of the current to the reference mean
    error (1 when nothing changed). ``max_rows`` bounds the rows used (a
    seeded uniform subsample). ``current`` is never modified.

    There is no fixed-threshold override: a single upper threshold is the
    one-sided test that missed every window whose drift lowered the error.
    """
    if not (math.isfinite(level) and 0.0 < level < 1.0):
        raise ValueError(f"level must be in (0, 1), got {level}")
    check_max_rows(max_rows)
    rng = np.random.default_rng(seed)
    n_reference = int(profile.reference_rows.shape[0])
    prepared = prepare_current(profile, current, max_rows=max_rows, min_rows=1, rng=rng)
    if not isinstance(prepared, CurrentRows):
        fallback = profile.reconstruction_bounds(max(prepared.n_current, 1), level)
        return untestable_result(
            prepared, method=METHOD, threshold=fallback.upper, n_reference=n_reference
        )
    n_current = int(prepared.matrix.shape[0])
    bounds = profile.reconstruction_bounds(n_current, level)
    errors = reconstruction_errors(prepared.matrix, profile.pca_mean, profile.pca_components)
    mean_error = float(errors.mean())
    reference_error = float(profile.pca_reference_errors.mean())
    side = _side(mean_error, bounds)
    drifted = mean_error < bounds.lower or mean_error > bounds.upper
    return ColumnResult(
        column="*",
        method=METHOD,
        statistic=mean_error,
        p_value=None,
        threshold=bounds.lower if side == "lower" else bounds.upper,
        drifted=drifted,
        n_reference=n_reference,
        n_current=n_current,
        status="ok",
        reason=_reason(mean_error, bounds, level),
        details={
            **prepared.details,
            "effect": mean_error / reference_error if reference_error > 0.0 else None,
            "side": side,
            "lower_bound": bounds.lower,
            "upper_bound": bounds.upper,
            "level": level,
            "bound_method": bounds.method,
            "reference_mean_error": reference_error,
            "n_components": int(profile.pca_components.shape[0]),
            "variance_explained": profile.pca_variance_explained,
            "reference_subsampled": profile.subsampled,
        },
    )


def _side(mean_error: float, bounds: ReconstructionBounds) -> Literal["lower", "upper"]:
    if mean_error < bounds.lower:
        return "lower"
    if mean_error > bounds.upper:
        return "upper"
    return "lower" if mean_error < (bounds.lower + bounds.upper) / 2.0 else "upper"


def _reason(mean_error: float, bounds: ReconstructionBounds, level: float) -> str:
    """The verdict, the crossed bound and the other one, e.g.

    "mean reconstruction error 0.41 < lower bound 0.52 (two-sided, level 0.0001; upper 0.77)".
    """
    error = f"mean reconstruction error {format_number(mean_error)}"
    lower, upper = format_number(bounds.lower), format_number(bounds.upper)
    test = f"two-sided, level {format_number(level)}"
    if mean_error < bounds.lower:
        return f"{error} < lower bound {lower} ({test}; upper {upper})"
    if mean_error > bounds.upper:
        return f"{error} > upper bound {upper} ({test}; lower {lower})"
    return f"{error} within bounds [{lower}, {upper}] ({test})"
