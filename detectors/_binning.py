"""Quantile bins of a numeric reference, shared by the profile and PSI."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def quantile_edges(values: npt.NDArray[np.float64], n_bins: int) -> npt.NDArray[np.float64]:
    """Return the distinct ``n_bins``-quantiles of ``values`` (min and max included).

    Repeated quantiles (discrete data) are merged, so fewer bins may result;
    a constant column has a single edge.
    """
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)))
    return edges.astype(np.float64)


def bin_counts(
    edges: npt.NDArray[np.float64], values: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Count ``values`` into ``len(edges) + 2`` bins.

    Bins are ``(-inf, e0)``, ``[e0, e0]``, ``(e0, e1]``, ..., ``(e_last, inf)``.
    The two open tails are empty in the reference by construction; they exist
    so that current values outside the reference range land in bins of their
    own and raise PSI instead of hiding in the outermost quantile bins. The
    minimum gets a bin of its own so that discrete data keep their lowest
    value apart (a 0/1 column has edges [0, 1] and bins {0} and (0, 1]) and a
    constant column still has bins below, at and above its value.

    >>> bin_counts(np.array([0.0, 1.0, 2.0]), np.array([-5.0, 0.0, 0.5, 1.0, 1.5, 2.0, 9.0]))
    array([1, 1, 2, 2, 1])
    """
    index = np.searchsorted(edges, values, side="left") + 1
    index[values < edges[0]] = 0
    return np.bincount(index, minlength=edges.size + 2).astype(np.int64)
