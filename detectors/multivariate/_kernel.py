"""The RBF kernel, its median-heuristic bandwidth, and the unbiased MMD² over permutations."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TIE_TOLERANCE = 1e-12
"""Permuted statistics within this of the observed one count as ties (as large).

The observed statistic is computed by the same arithmetic as the permuted
ones, but a permutation that gives the same split in another order can differ
in the last bits; counting such near-ties as ties keeps the p-value
conservative instead of rounding-dependent.
"""


def squared_distances(
    left: npt.NDArray[np.float64], right: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Pairwise squared Euclidean distances, clipped at 0 against rounding."""
    distances = left @ right.T
    distances *= -2.0
    distances += np.einsum("ij,ij->i", left, left)[:, None]
    distances += np.einsum("ij,ij->i", right, right)[None, :]
    np.maximum(distances, 0.0, out=distances)
    return distances


def median_bandwidth(rows: npt.NDArray[np.float64]) -> float:
    """The median heuristic: the median distance between distinct rows.

    When more than half of the pairs coincide (a dominant category, a constant
    column set), the median of the non-zero distances is used instead; when
    every row is the same, 1.0, since then any bandwidth gives the same kernel.
    """
    if rows.shape[0] < 2:
        return 1.0
    upper = np.sqrt(squared_distances(rows, rows)[np.triu_indices(rows.shape[0], k=1)])
    median = float(np.median(upper))
    if median <= 0.0:
        positive = upper[upper > 0.0]
        median = float(np.median(positive)) if positive.size else 1.0
    return median


def rbf_kernel(rows: npt.NDArray[np.float64], bandwidth: float) -> npt.NDArray[np.float64]:
    """``exp(-|x - y|² / (2 bandwidth²))`` between all pairs of ``rows`` (diagonal exactly 1)."""
    kernel = squared_distances(rows, rows)
    np.fill_diagonal(kernel, 0.0)
    kernel *= -1.0 / (2.0 * bandwidth * bandwidth)
    np.exp(kernel, out=kernel)
    return kernel


def paired_shift_mmd2(
    rows: npt.NDArray[np.float64], changed: npt.NDArray[np.float64], bandwidth: float
) -> float:
    """Unbiased MMD² between ``rows`` and ``changed``, row ``i`` of one paired with row ``i``.

    The plain two-sample estimator would count each row against its own changed
    copy, which is far closer than an independent draw and biases the value
    low; leaving out those pairs (as the within-sample sums leave out the
    diagonal) gives ``2 Σ_{i≠j} [k(x_i, x_j) - k(x_i, y_j)] / (n(n-1))``
    when the change keeps the within-sample kernel, and the general form
    below otherwise.
    """
    n_rows = rows.shape[0]
    if n_rows < 2:
        return 0.0
    scale = -1.0 / (2.0 * bandwidth * bandwidth)
    total = 0.0
    for left, right, sign in ((rows, rows, 1.0), (changed, changed, 1.0), (rows, changed, -2.0)):
        kernel = squared_distances(left, right)
        kernel *= scale
        np.exp(kernel, out=kernel)
        total += sign * (float(kernel.sum()) - float(np.trace(kernel)))
    return float(total / (n_rows * (n_rows - 1)))


def permuted_mmd2(
    kernel: npt.NDArray[np.float64], n_first: int, splits: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Unbiased and biased MMD² for each split of the pooled sample behind ``kernel``.

    ``splits`` is N × S with a 1 where a pooled row belongs to the first sample
    (``n_first`` ones per column). With ``a`` a split, ``r = K 1`` and
    ``T = 1ᵀ K 1``, the within- and between-sample kernel sums are ``aᵀKa``,
    ``T - 2 aᵀr + aᵀKa`` and ``aᵀr - aᵀKa``, so one matrix product ``K @ splits``
    gives every permutation's statistic. The unbiased estimator takes the
    diagonal (all 1) out of the within-sample sums; the biased one (the squared
    distance between the two samples' mean embeddings) keeps it, and so is
    never negative.
    """
    n_second = kernel.shape[0] - n_first
    row_sums = kernel.sum(axis=1)
    total = float(row_sums.sum())
    first_first = np.einsum("ij,ij->j", splits, kernel @ splits)
    first_rows = row_sums @ splits
    second_second = total - 2.0 * first_rows + first_first
    between = first_rows - first_first
    cross = 2.0 * between / (n_first * n_second)
    unbiased: npt.NDArray[np.float64] = (
        (first_first - n_first) / (n_first * (n_first - 1))
        + (second_second - n_second) / (n_second * (n_second - 1))
        - cross
    )
    biased: npt.NDArray[np.float64] = np.maximum(
        first_first / (n_first * n_first) + second_second / (n_second * n_second) - cross, 0.0
    )
    return unbiased, biased
