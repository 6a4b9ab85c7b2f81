"""PCA reconstruction error of current rows under the reference's principal components.

The reference's encoded rows mostly lie near a low-dimensional subspace
when its columns are related (the fewest principal components explaining
95% of the variance, by default). Rows that break those relations land off
the subspace, and their squared distance to it, the reconstruction error,
grows. The statistic is the mean error of the current rows used; there is no
p-value. The default threshold is the 99th percentile of that mean for an
unchanged window of the same size, from a seeded bootstrap of the
reference's held-out errors (see ``MultivariateProfile.reconstruction_threshold``);
drifted when the mean is above it.

>>> import numpy as np
>>> import pandas as pd
>>> from detectors.multivariate import fit_multivariate, test_pca_reconstruction
>>> rng = np.random.default_rng(5)
>>> x = rng.normal(size=500)
>>> reference = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.2, size=500)})
>>> profile = fit_multivariate(reference, [("x", "numeric"), ("y", "numeric")])
>>> x = rng.normal(size=200)
>>> broken = pd.DataFrame({"x": x, "y": rng.normal(size=200)})
>>> result = test_pca_reconstruction(profile, broken)
>>> result.drifted, round(result.statistic, 3), result.reason
(True, 0.964, 'mean reconstruction error 0.964 > 0.02792')
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from detectors._outcome import format_number
from detectors.multivariate._current import (
    CurrentRows,
    check_max_rows,
    prepare_current,
    untestable_result,
)
from detectors.multivariate._pca import reconstruction_errors
from detectors.multivariate.profile import MultivariateProfile
from detectors.result import ColumnResult

METHOD = "pca_reconstruction"


def test_pca_reconstruction(
    profile: MultivariateProfile,
    current: pd.DataFrame,
    *,
    threshold: float | None = None,
    max_rows: int = 2000,
    seed: int = 0,
) -> ColumnResult:
    """Compare the mean reconstruction error of ``current`` rows with a threshold.

    ``threshold`` defaults to ``profile.reconstruction_threshold(n)`` for the
    ``n`` current rows used. ``max_rows`` bounds the rows used (a seeded
    uniform subsample). ``details["effect"]`` is the ratio of the current to
    the reference mean error (1 when nothing changed). ``current`` is never
    modified.
    """
    if threshold is not None and not (math.isfinite(threshold) and threshold > 0.0):
        raise ValueError(f"threshold must be a positive number, got {threshold}")
    check_max_rows(max_rows)
    rng = np.random.default_rng(seed)
    n_reference = int(profile.reference_rows.shape[0])
    prepared = prepare_current(profile, current, max_rows=max_rows, min_rows=1, rng=rng)
    if not isinstance(prepared, CurrentRows):
        fallback = profile.reconstruction_threshold(max(prepared.n_current, 1))
        return untestable_result(
            prepared,
            method=METHOD,
            threshold=fallback if threshold is None else threshold,
            n_reference=n_reference,
        )
    n_current = int(prepared.matrix.shape[0])
    level = profile.reconstruction_threshold(n_current) if threshold is None else threshold
    errors = reconstruction_errors(prepared.matrix, profile.pca_mean, profile.pca_components)
    mean_error = float(errors.mean())
    reference_error = float(profile.pca_reference_errors.mean())
    drifted = mean_error > level
    relation = ">" if drifted else "<="
    return ColumnResult(
        column="*",
        method=METHOD,
        statistic=mean_error,
        p_value=None,
        threshold=level,
        drifted=drifted,
        n_reference=n_reference,
        n_current=n_current,
        status="ok",
        reason=(
            f"mean reconstruction error {format_number(mean_error)} {relation} "
            f"{format_number(level)}"
        ),
        details={
            **prepared.details,
            "effect": mean_error / reference_error if reference_error > 0.0 else None,
            "reference_mean_error": reference_error,
            "n_components": int(profile.pca_components.shape[0]),
            "variance_explained": profile.pca_variance_explained,
            "reference_subsampled": profile.subsampled,
        },
    )


# A library function named test_* must not be collected by pytest in user test modules.
test_pca_reconstruction.__test__ = False  # type: ignore[attr-defined]
