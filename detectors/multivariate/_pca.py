"""Principal components of encoded reference rows and reconstruction errors."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

N_BOOTSTRAP = 1000
"""Seeded bootstrap rounds behind a reconstruction-error threshold."""

_BOOTSTRAP_BLOCK = 100


def n_components_for(
    rows: npt.NDArray[np.float64], variance_explained: float, max_components: int
) -> int:
    """Fewest components explaining ``variance_explained`` of the variance, capped.

    Capped at ``max_components``, at one less than the number of coordinates
    (all of them would reconstruct every row exactly, and the error would
    carry no information) and at one less than the number of rows.
    """
    centred = rows - rows.mean(axis=0)
    variances = np.linalg.svd(centred, compute_uv=False) ** 2
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
    centred = rows - mean
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    variances = singular**2
    total = float(variances.sum())
    share = float(variances[:n_components].sum() / total) if total > 0.0 else 1.0
    return mean, np.ascontiguousarray(axes[:n_components]), share


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
    """Every row's error under a model fitted without it (two seeded folds).

    A model's errors on its own training rows are biased low, and a threshold
    built from them would make unchanged data look drifted. Each half is scored
    by the model fitted on the other half; half-size models fit slightly worse
    than the full one, which errs towards fewer false alarms.
    """
    order = rng.permutation(rows.shape[0])
    folds = (order[: rows.shape[0] // 2], order[rows.shape[0] // 2 :])
    errors = np.empty(rows.shape[0], dtype=np.float64)
    for fitted, scored in (folds, folds[::-1]):
        k = min(n_components, fitted.size - 1)
        mean, components, _ = fit_components(rows[fitted], k)
        errors[scored] = reconstruction_errors(rows[scored], mean, components)
    return np.sort(errors)


def chunk_threshold(
    reference_errors: npt.NDArray[np.float64], n_rows: int, quantile: float, seed: int
) -> float:
    """The ``quantile`` of a window's mean error when nothing has changed.

    A window of ``n_rows`` rows is compared with the reference's held-out mean
    error, and both means vary: so each of ``N_BOOTSTRAP`` seeded rounds draws
    a chunk of ``n_rows`` reference errors and a resample of the whole
    reference (both with replacement) and keeps
    ``reference mean + (chunk mean - resample mean)``.
    The threshold therefore depends on the window size: a fixed-size chunk
    would alarm too often on larger windows and too rarely on smaller ones.
    """
    rng = np.random.default_rng(seed)
    size = reference_errors.size
    centre = float(reference_errors.mean())
    deviations = np.empty(N_BOOTSTRAP, dtype=np.float64)
    for start in range(0, N_BOOTSTRAP, _BOOTSTRAP_BLOCK):
        block = min(_BOOTSTRAP_BLOCK, N_BOOTSTRAP - start)
        chunk = reference_errors[rng.integers(0, size, size=(block, n_rows))].mean(axis=1)
        resample = reference_errors[rng.integers(0, size, size=(block, size))].mean(axis=1)
        deviations[start : start + block] = chunk - resample
    return centre + float(np.quantile(deviations, quantile))
