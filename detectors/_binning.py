"""Quantile bins of a numeric reference, shared by the profile and the binned methods."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def quantile_edges(sorted_values: npt.NDArray[np.float64], n_bins: int) -> npt.NDArray[np.float64]:
    """Return the distinct interior ``n_bins``-quantiles of ascending values (the bin boundaries).

    The reference's minimum and maximum are not edges: the outer bins are
    open, so the bins are fixed shares of the reference distribution and a
    distance over them does not depend on how far a larger reference happens
    to reach into the tails. Repeated quantiles (discrete data) are merged,
    so the values of a discrete column become edges of their own: a 0/1
    column with 95 % zeros has the single edge 0, and bins {0} and (0, inf).
    A constant column also gets the float just below its value as an edge,
    so that it still has bins below, at and above its value.

    >>> quantile_edges(np.array([0.0] * 95 + [1.0] * 5), 10).tolist()
    [0.0]
    >>> quantile_edges(np.full(10, 3.0), 10).tolist() == [np.nextafter(3.0, -np.inf), 3.0]
    True
    """
    positions = np.arange(1, n_bins) / n_bins
    edges = np.unique(sorted_quantiles(sorted_values, positions)) if positions.size else np.empty(0)
    if sorted_values.size and float(sorted_values[0]) == float(sorted_values[-1]):
        value = float(sorted_values[0])
        edges = np.array([np.nextafter(value, -np.inf), value])
    return np.asarray(edges, dtype=np.float64)


def sorted_quantiles(
    sorted_values: npt.NDArray[np.float64], positions: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Return ``np.quantile(values, positions)`` (its default, linear method) of ascending values.

    The same arithmetic as numpy's, read off the order statistics: numpy
    would copy and partition the whole array for values already sorted.

    >>> values = np.sort(np.random.default_rng(3).normal(size=1001))
    >>> bool(np.array_equal(sorted_quantiles(values, np.array([0.1, 0.5, 0.77])),
    ...                     np.quantile(values, [0.1, 0.5, 0.77])))
    True
    """
    last = sorted_values.size - 1
    virtual = last * positions
    floor = np.floor(virtual)
    lower = sorted_values[np.minimum(floor, last).astype(np.intp)]
    upper = sorted_values[np.minimum(floor + 1, last).astype(np.intp)]
    weight = virtual - floor
    step = upper - lower
    quantiles: npt.NDArray[np.float64] = np.where(
        weight >= 0.5, upper - step * (1 - weight), lower + step * weight
    )
    return quantiles


def bin_counts(
    edges: npt.NDArray[np.float64], sorted_values: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Count ascending ``sorted_values`` into ``(-inf, e0]``, ``(e0, e1]``, ..., ``(e_last, inf)``.

    The values come sorted (a profile's, or ``prepare_numeric``'s), so each
    edge is one binary search: O(bins log n), not a pass over the values.

    >>> bin_counts(np.array([0.0, 1.0]), np.array([-5.0, 0.0, 0.5, 1.0, 1.5, 9.0])).tolist()
    [2, 2, 2]
    """
    at_or_below = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(at_or_below, prepend=0, append=sorted_values.size).astype(np.int64)
