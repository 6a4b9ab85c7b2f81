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


def permuted_mmd2(
    kernel: npt.NDArray[np.float64], n_first: int, splits: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Unbiased MMD² for each split of the pooled sample behind ``kernel``.

    ``splits`` is N × S with a 1 where a pooled row belongs to the first sample
    (``n_first`` ones per column). With ``a`` a split, ``r = K 1`` and
    ``T = 1ᵀ K 1``, the within- and between-sample kernel sums are ``aᵀKa``,
    ``T - 2 aᵀr + aᵀKa`` and ``aᵀr - aᵀKa``, so one matrix product ``K @ splits``
    gives every permutation's statistic; the diagonal (all 1) is taken out of
    the within-sample sums.
    """
    n_second = kernel.shape[0] - n_first
    row_sums = kernel.sum(axis=1)
    total = float(row_sums.sum())
    first_first = np.einsum("ij,ij->j", splits, kernel @ splits)
    first_rows = row_sums @ splits
    second_second = total - 2.0 * first_rows + first_first
    between = first_rows - first_first
    statistics: npt.NDArray[np.float64] = (
        (first_first - n_first) / (n_first * (n_first - 1))
        + (second_second - n_second) / (n_second * (n_second - 1))
        - 2.0 * between / (n_first * n_second)
    )
    return statistics
