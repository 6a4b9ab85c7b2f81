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
Both sides are bounded uniform subsamples (``max_rows`` each): the pooled
kernel matrix is computed once and every permutation (a seeded random split
of the pooled rows) is one column of a single matrix product.

Two p-values come from the same permutations:

- the permutation p-value ``(1 + #{permuted MMD² >= observed}) / (1 +
  n_permutations)``: exact (a test at level alpha errs at most alpha of the
  time when nothing changed), but never below ``1 / (1 + n_permutations)``,
  so with 500 permutations a level of 1e-3 or less could never fire;
- the gamma p-value: a gamma distribution fitted by the method of moments to
  the permuted MMD², evaluated at the observed MMD² (survival function). It
  resolves any level, but is an approximation. The classic version (Gretton
  et al., "A fast, consistent kernel two-sample test", NIPS 2009) fits a
  two-parameter gamma (mean and variance) to the biased, never negative
  MMD². On stationary data (5 correlated numeric columns and a category,
  windows of 100 to 1,000 rows) that tail was too light: at the true 0.2%
  point of the permutation null (4,000 permutations) it gave p-values 0.37
  times too small (median; down to 0.06). The MMD null is a weighted sum of
  chi-squares, which is at least as skewed as the two-moment gamma implies
  and usually more. So here the unbiased MMD², which can be negative, gets a
  shifted gamma (Pearson type III) matching the mean, variance and skewness
  of the permuted statistics: the shift comes from the moments, not from the
  minimum of the permutations, a noisy extreme. The skewness is never taken
  below the two-moment gamma's. Same measurement: median ratio 0.92 to 1.1,
  but with 500 permutations the skewness is noisy and single windows ranged
  from 0.4 to 4 times the true p-value.

The result's ``p_value`` is the permutation one when the permutations resolve
alpha, i.e. when ``alpha * (1 + n_permutations) >= MIN_PERMUTATION_RESOLUTION``
(5; with the default 500 permutations: alpha >= 0.00998, so 0.01 and 0.05),
because there it is exact and the approximation would only add error;
otherwise the gamma one, since the permutation p-value cannot go below alpha
at all (always using the gamma would make the common levels approximate for
no gain in resolution). Both are in ``details``
(``p_value_permutation``, ``p_value_gamma``) and ``details["p_value_method"]``
says which decided.

Significance is not enough: with thousands of rows a negligible change is
significant. Drifted needs also ``MMD² >= profile.mmd_effect_floor``, the
MMD² of a change that moves every column by about the smallest amount its own
column test calls drift (see ``fit_multivariate``); the result's ``effect``
and ``effect_floor`` carry both, and ``reason`` names both conditions.

>>> import numpy as np
>>> import pandas as pd
>>> from detectors.multivariate import fit_multivariate, compare_mmd
>>> rng = np.random.default_rng(3)
>>> x = rng.normal(size=400)
>>> reference = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.3, size=400)})
>>> profile = fit_multivariate(reference, [("x", "numeric"), ("y", "numeric")])
>>> x = rng.normal(size=300)
>>> flipped = pd.DataFrame({"x": x, "y": -x + rng.normal(scale=0.3, size=300)})
>>> result = compare_mmd(profile, flipped, alpha=1e-4)
>>> result.drifted, round(result.statistic, 4), result.details["p_value_method"]
(True, 0.1485, 'gamma')
>>> result.reason
'p-value 1.705e-59 < 0.0001 and MMD² 0.1485 >= floor 0.002014'
>>> same = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.3, size=300)})
>>> result = compare_mmd(profile, same)
>>> result.drifted, result.details["p_value_method"], result.reason
(False, 'permutation', 'p-value 0.6467 >= 0.05; MMD² -0.00118 (floor 0.002014)')
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from detectors._outcome import format_number, significance_and_size_reason
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

MIN_PERMUTATION_RESOLUTION: Final = 5
"""Permutations' worth of p-value below alpha for the exact permutation p-value to decide."""


def compare_mmd(
    profile: MultivariateProfile,
    current: pd.DataFrame,
    *,
    alpha: float = 0.05,
    n_permutations: int = 500,
    max_rows: int = 2000,
    seed: int = 0,
) -> ColumnResult:
    """Test whole rows of ``current`` against the profile's reference rows with MMD.

    Drifted when the p-value is below ``alpha`` (the permutation p-value when
    the permutations resolve ``alpha``, else the gamma approximation; see the
    module docstring) and the unbiased MMD² is at least
    ``profile.mmd_effect_floor``. ``statistic``, ``effect`` and
    ``details["effect"]`` are the unbiased MMD²; the result's ``column`` is
    ``"*"`` (the whole row). ``max_rows`` bounds each side; ``seed`` fixes
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
    unbiased, biased = permuted_mmd2(kernel, n_reference, splits)
    del kernel
    observed = float(unbiased[0])
    exceed = int(np.count_nonzero(unbiased[1:] >= observed - TIE_TOLERANCE))
    p_permutation = (1 + exceed) / (1 + n_permutations)
    p_gamma, shape, scale, location = _gamma_p_value(observed, unbiased[1:], biased[1:])
    use_permutation = alpha * (1 + n_permutations) >= MIN_PERMUTATION_RESOLUTION
    p_value = p_permutation if use_permutation else p_gamma
    significant = p_value < alpha
    floor = profile.mmd_effect_floor
    drifted = significant and observed >= floor
    relation = "<" if significant else ">="
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
        reason=significance_and_size_reason(
            significance=f"p-value {format_number(p_value)} {relation} {format_number(alpha)}",
            significant=significant,
            effect_name="MMD²",
            effect=observed,
            effect_floor=floor,
        ),
        details={
            **prepared.details,
            "effect": observed,
            "effect_floor": floor,
            "p_value_method": "permutation" if use_permutation else "gamma",
            "p_value_permutation": p_permutation,
            "p_value_gamma": p_gamma,
            "gamma_shape": shape,
            "gamma_scale": scale,
            "gamma_location": location,
            "bandwidth": profile.bandwidth,
            "n_permutations": n_permutations,
            "reference_subsampled": n_reference < profile.n_rows,
        },
        effect=observed,
        effect_floor=floor,
    )


def _gamma_p_value(
    observed: float, permuted: npt.NDArray[np.float64], permuted_biased: npt.NDArray[np.float64]
) -> tuple[float, float | None, float | None, float | None]:
    """Shifted-gamma survival at ``observed``; with shape, scale and location.

    The gamma's shape, scale and shift match the mean, variance and skewness
    of the permuted statistics ``permuted`` (a Pearson type III fit). The
    skewness is never taken below ``2 sd / mean`` of the permuted biased
    statistics (``permuted_biased``): that is the skewness of the two-moment
    gamma fitted to them, and the MMD null, a weighted sum of chi-squares, is
    at least that skewed (Cauchy-Schwarz), so the floor only guards against a
    sample skewness that rounding or few permutations pushed too low.
    Permuted statistics without spread (every split alike, e.g. identical
    rows) give no null to fit: then the p-value is 1 unless ``observed``
    exceeds them, and 0 if it does (no permutation can reach it).
    """
    mean = float(permuted.mean())
    sd = float(permuted.std(ddof=1)) if permuted.size > 2 else 0.0
    mean_biased = float(permuted_biased.mean())
    if sd <= 0.0 or mean_biased <= 0.0:
        return (0.0 if observed > mean + TIE_TOLERANCE else 1.0), None, None, None
    centred = (permuted - mean) / sd
    skewness = max(float(np.mean(centred**3)), 2.0 * sd / mean_biased)
    shape = 4.0 / (skewness * skewness)
    scale = sd * skewness / 2.0
    location = mean - shape * scale
    if observed <= location:
        return 1.0, shape, scale, location
    return float(special.gammaincc(shape, (observed - location) / scale)), shape, scale, location


def _check_parameters(alpha: float, n_permutations: int) -> None:
    if not (math.isfinite(alpha) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be at least 1, got {n_permutations}")
