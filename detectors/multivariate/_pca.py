"""Principal components of encoded reference rows and reconstruction errors."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

N_BOOTSTRAP = 2000
"""Seeded bootstrap rounds behind the reconstruction-error bounds."""

MIN_TAIL_ROUNDS = 10
"""Fewest bootstrap rounds beyond a bound for its empirical quantile to be used.

With ``N_BOOTSTRAP`` rounds that resolves tails down to 0.5% each, i.e. a
two-sided level down to 0.01; smaller levels use the normal approximation.
"""

N_FOLDS = 10
"""Folds behind the held-out reference errors."""

_BOOTSTRAP_BLOCK = 100


def n_components_for(
    rows: npt.NDArray[np.float64], variance_explained: float, max_components: int
) -> int:
    """Fewest components explaining ``variance_explained`` of the variance, capped.

    Capped at ``max_components``, at one less than the number of coordinates
    (all of them would reconstruct every row exactly, and the error would
    carry no information) and at one less than the number of rows.
    """
    variances, _ = _principal_axes(rows - rows.mean(axis=0))
    total = float(variances.sum())
    wanted = 0
    if total > 0.0:
        shares = np.cumsum(variances) / total
        wanted = int(np.searchsorted(shares, variance_explained - 1e-12)) + 1
    n_rows, width = (int(size) for size in rows.shape)
    return max(0, min(wanted, max_components, width - 1, n_rows - 1))


def fit_components(
    rows: npt.NDArray[np.float64], n_components: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """Mean, the first ``n_components`` principal axes (rows), and the variance share they hold."""
    mean = rows.mean(axis=0)
    variances, axes = _principal_axes(rows - mean)
    total = float(variances.sum())
    share = float(variances[:n_components].sum() / total) if total > 0.0 else 1.0
    return mean, np.ascontiguousarray(axes[:n_components]), share


def _principal_axes(
    centred: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Variances (sums of squares, descending) along the principal axes (rows) of ``centred``.

    From the eigendecomposition of the width × width scatter matrix rather than
    an SVD of the rows: a table has few coordinates and many rows, and the
    fit's ten folds then cost ten small products instead of ten SVDs of
    thousands of rows (which multithreaded LAPACK made slow on a busy machine).
    """
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(eigenvalues)[::-1]
    return np.maximum(eigenvalues[order], 0.0), np.ascontiguousarray(eigenvectors[:, order].T)


def reconstruction_errors(
    rows: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64],
    components: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Squared distance of each row to the fitted affine subspace."""
    centred = rows - mean
    residual = centred - (centred @ components.T) @ components
    errors: npt.NDArray[np.float64] = np.einsum("ij,ij->i", residual, residual)
    return errors


def held_out_errors(
    rows: npt.NDArray[np.float64], n_components: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Every row's error under a model fitted without it (``N_FOLDS`` seeded folds).

    A model's errors on its own training rows are biased low, and bounds built
    from them would make unchanged data look drifted. A current row is scored
    by a model fitted on all the reference rows; here each fold is scored by a
    model fitted on the other folds (90% of the rows). Models fitted on fewer
    rows fit a little worse, which was harmless while only a rise alerted,
    but pushes the held-out errors above what unchanged windows get, towards
    false alarms below the lower bound. Over 40 stationary references of 5,000
    rows (2,000 kept), the held-out mean error exceeded fresh rows' by 0.24
    of its standard error with two halves and by 0.07 with ten folds. Fewer
    rows than folds use one row per fold.
    """
    n_rows = int(rows.shape[0])
    order = rng.permutation(n_rows)
    folds = np.array_split(order, min(N_FOLDS, n_rows))
    errors = np.empty(n_rows, dtype=np.float64)
    for scored in folds:
        fitted = np.setdiff1d(order, scored, assume_unique=True)
        k = min(n_components, fitted.size - 1)
        mean, components, _ = fit_components(rows[fitted], k)
        errors[scored] = reconstruction_errors(rows[scored], mean, components)
    return np.sort(errors)


@dataclass(frozen=True, kw_only=True)
class ReconstructionBounds:
    """Where a window's mean error lies with probability ``1 - level`` when nothing changed."""

    lower: float
    upper: float
    method: Literal["bootstrap", "normal"]


def chunk_bounds(
    reference_errors: npt.NDArray[np.float64], n_rows: int, level: float, seed: int
) -> ReconstructionBounds:
    """The ``level/2`` and ``1 - level/2`` quantiles of a window's mean error under no change.

    A window of ``n_rows`` rows is compared with the reference's held-out mean
    error, and both means vary: so each of ``N_BOOTSTRAP`` seeded rounds draws
    a chunk of ``n_rows`` reference errors and a resample of the whole
    reference (both with replacement) and keeps
    ``reference mean + (chunk mean - resample mean)``. The bounds therefore
    depend on the window size: fixed-size chunks would alarm too often on
    larger windows and too rarely on smaller ones.

    When ``level/2`` leaves at least ``MIN_TAIL_ROUNDS`` rounds beyond each
    bound, the bounds are the empirical quantiles of the rounds (method
    ``"bootstrap"``). Smaller levels (a false-alarm budget gives per-run
    levels like 1e-4) cannot be read off 2000 rounds, so the bounds are
    ``mean ± z(1 - level/2) · sd`` of the rounds (method ``"normal"``): by the
    central limit theorem a mean of many errors is close to normal. A mean of
    few, skewed errors has a longer upper tail than the normal one, so the
    normal bounds are never narrower than the empirical 99% interval of the
    rounds; even so, for windows of a few dozen rows the upper bound's true
    tail probability can exceed ``level/2`` by a small factor.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    size = reference_errors.size
    centre = float(reference_errors.mean())
    deviations = np.empty(N_BOOTSTRAP, dtype=np.float64)
    for start in range(0, N_BOOTSTRAP, _BOOTSTRAP_BLOCK):
        block = min(_BOOTSTRAP_BLOCK, N_BOOTSTRAP - start)
        chunk = reference_errors[rng.integers(0, size, size=(block, n_rows))].mean(axis=1)
        resample = reference_errors[rng.integers(0, size, size=(block, size))].mean(axis=1)
        deviations[start : start + block] = chunk - resample
    tail = level / 2.0
    if tail * N_BOOTSTRAP >= MIN_TAIL_ROUNDS:
        low, high = np.quantile(deviations, [tail, 1.0 - tail])
        return ReconstructionBounds(
            lower=centre + float(low), upper=centre + float(high), method="bootstrap"
        )
    resolved = MIN_TAIL_ROUNDS / N_BOOTSTRAP
    empirical_low, empirical_high = np.quantile(deviations, [resolved, 1.0 - resolved])
    z = NormalDist().inv_cdf(1.0 - tail)
    middle = float(deviations.mean())
    spread = z * float(deviations.std(ddof=1))
    return ReconstructionBounds(
        lower=centre + min(middle - spread, float(empirical_low)),
        upper=centre + max(middle + spread, float(empirical_high)),
        method="normal",
    )
