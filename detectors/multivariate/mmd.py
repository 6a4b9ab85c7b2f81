"""Maximum mean discrepancy (MMD) between reference and current rows.

Column-wise tests see each marginal distribution alone, so they miss a
change in how columns move together (a correlation that flips, a segment
whose mix of values changes). MMD compares the whole joint distribution of
encoded rows: with the RBF kernel ``k(x, y) = exp(-|x - y|² / (2 h²))``, the
unbiased estimator

    MMD² = Σ_{i≠j} k(x_i, x_j) / (n(n-1)) + Σ_{i≠j} k(y_i, y_j) / (m(m-1))
           - 2 Σ_{i,j} k(x_i, y_j) / (nm)

is near zero when both samples come from one distribution (it can be
slightly negative). The bandwidth ``h`` is the profile's median heuristic.
The p-value is ``(1 + #{permuted MMD² >= observed}) / (1 + n_permutations)``
over seeded random splits of the pooled rows, so it is never 0 and a test at
level alpha errs at most alpha of the time when nothing changed. Both sides
are bounded uniform subsamples (``max_rows`` each): the pooled kernel matrix
is computed once and every permutation is one column of a single matrix
product.

>>> import numpy as np
>>> import pandas as pd
>>> from detectors.multivariate import fit_multivariate, test_mmd
>>> rng = np.random.default_rng(3)
>>> x = rng.normal(size=400)
>>> reference = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.3, size=400)})
>>> profile = fit_multivariate(reference, [("x", "numeric"), ("y", "numeric")])
>>> x = rng.normal(size=300)
>>> flipped = pd.DataFrame({"x": x, "y": -x + rng.normal(scale=0.3, size=300)})
>>> result = test_mmd(profile, flipped)
>>> result.drifted, round(result.statistic, 4), result.reason
(True, 0.1485, 'p-value 0.001996 < 0.05')
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
    subsample,
    untestable_result,
)
from detectors.multivariate._kernel import TIE_TOLERANCE, permuted_mmd2, rbf_kernel
from detectors.multivariate.profile import MultivariateProfile
from detectors.result import ColumnResult

METHOD = "mmd"


def test_mmd(
    profile: MultivariateProfile,
    current: pd.DataFrame,
    *,
    alpha: float = 0.05,
    n_permutations: int = 500,
    max_rows: int = 2000,
    seed: int = 0,
) -> ColumnResult:
    """Test whole rows of ``current`` against the profile's reference rows with MMD.

    Drifted when the permutation p-value is below ``alpha``. ``statistic``
    and ``details["effect"]`` are the unbiased MMD²; the result's ``column``
    is ``"*"`` (the whole row). ``max_rows`` bounds each side; ``seed`` fixes
    the subsamples and the permutations. ``current`` is never modified.
    """
    _check_parameters(alpha, n_permutations)
    check_max_rows(max_rows)
    rng = np.random.default_rng(seed)
    reference_rows = profile.reference_rows
    if reference_rows.shape[0] > max_rows:
        reference_rows = reference_rows[subsample(reference_rows.shape[0], max_rows, rng)]
    n_reference = int(reference_rows.shape[0])
    prepared = prepare_current(profile, current, max_rows=max_rows, min_rows=2, rng=rng)
    if not isinstance(prepared, CurrentRows):
        return untestable_result(prepared, method=METHOD, threshold=alpha, n_reference=n_reference)
    n_current = int(prepared.matrix.shape[0])
    pooled = np.concatenate([reference_rows, prepared.matrix])
    kernel = rbf_kernel(pooled, profile.bandwidth)
    splits = np.zeros((pooled.shape[0], n_permutations + 1), dtype=np.float64)
    splits[:n_reference, 0] = 1.0  # column 0: the observed split
    shuffled = rng.permuted(np.tile(np.arange(pooled.shape[0]), (n_permutations, 1)), axis=1)
    columns = np.repeat(np.arange(1, n_permutations + 1), n_reference)
    splits[shuffled[:, :n_reference].ravel(), columns] = 1.0
    statistics = permuted_mmd2(kernel, n_reference, splits)
    del kernel
    observed = float(statistics[0])
    exceed = int(np.count_nonzero(statistics[1:] >= observed - TIE_TOLERANCE))
    p_value = (1 + exceed) / (1 + n_permutations)
    drifted = p_value < alpha
    relation = "<" if drifted else ">="
    return ColumnResult(
        column="*",
        method=METHOD,
        statistic=observed,
        p_value=p_value,
        threshold=alpha,
        drifted=drifted,
        n_reference=n_reference,
        n_current=n_current,
        status="ok",
        reason=f"p-value {format_number(p_value)} {relation} {format_number(alpha)}",
        details={
            **prepared.details,
            "effect": observed,
            "bandwidth": profile.bandwidth,
            "n_permutations": n_permutations,
            "reference_subsampled": n_reference < profile.n_rows,
        },
    )


# A library function named test_* must not be collected by pytest in user test modules.
test_mmd.__test__ = False  # type: ignore[attr-defined]


def _check_parameters(alpha: float, n_permutations: int) -> None:
    if not (math.isfinite(alpha) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be at least 1, got {n_permutations}")
