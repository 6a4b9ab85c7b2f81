"""A numeric window as counts in fixed cells: the numeric half of the "counts" form.

A window summarised where it lives (``detectors.window_summary``) arrives as
the counts of its finite values in the cells ``(-inf, e0]``, ``(e0, e1]``,
..., ``(e_last, inf)`` of ascending edges (the reference's fine quantiles,
which include the profile's bin edges and the sequential sketch grid). The
methods that accept counts read only what these determine exactly: counts in
any coarser grid of the same edges, and the window's ECDF at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, eq=False)
class CellCounts:
    """Counts of finite values in the cells of ``edges`` (``len(edges) + 1`` cells)."""

    edges: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        if self.counts.size != self.edges.size + 1:
            raise ValueError(
                f"cell counts need len(edges) + 1 = {self.edges.size + 1} counts, "
                f"got {self.counts.size}"
            )
        if self.edges.size and not bool(np.all(np.diff(self.edges) > 0)):
            raise ValueError("cell edges must be strictly ascending")
        if self.counts.size and int(self.counts.min()) < 0:
            raise ValueError("cell counts must be >= 0")

    @property
    def n(self) -> int:
        """How many values the cells hold."""
        return int(self.counts.sum())

    def coarsened(self, edges: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Counts in the cells of ``edges``, which must all be edges of these cells.

        Exact, like ``detectors._binning.bin_counts`` of the values themselves.

        >>> cells = CellCounts(np.array([0.0, 1.0, 2.0]), np.array([3, 1, 4, 2]))
        >>> cells.coarsened(np.array([1.0])).tolist()
        [4, 6]
        """
        positions = np.searchsorted(self.edges, edges)
        inside = positions < self.edges.size
        if not bool(np.all(inside)) or not np.array_equal(self.edges[positions], edges):
            raise ValueError(
                "the requested edges are not all edges of the window's cells; "
                "a summary must be made on the profile's own summary edges"
            )
        at_or_below = np.cumsum(self.counts)[positions]
        return np.diff(at_or_below, prepend=0, append=self.n).astype(np.int64)

    def cdf_at_edges(self) -> npt.NDArray[np.float64]:
        """The share of the values at or below each edge."""
        total = self.n
        cumulative = np.cumsum(self.counts[:-1])
        return np.asarray(cumulative / total if total else cumulative * 0.0, dtype=np.float64)

    def ks_gap(self, reference_sorted: npt.NDArray[np.float64]) -> float:
        """The largest gap between the reference ECDF and the cells' ECDF, taken at the edges.

        Both ECDFs are exact at the edges, and between two edges the exact
        gap can only be larger: this never exceeds the two-sample KS
        statistic of the values themselves, and falls short of it by at most
        the share of either side in one cell.

        >>> cells = CellCounts(np.array([0.0, 1.0]), np.array([1, 1, 2]))
        >>> cells.ks_gap(np.array([-1.0, -0.5, 0.5, 2.0]))
        0.25
        """
        if not self.edges.size or not reference_sorted.size or not self.n:
            return 0.0
        reference_cdf = np.searchsorted(reference_sorted, self.edges, side="right")
        gaps = np.abs(reference_cdf / reference_sorted.size - self.cdf_at_edges())
        return float(np.max(gaps))

    def holds_only(self, value: float) -> bool:
        """Whether every value is ``value`` (its cell holds nothing else: ``(prev(value), value]``).

        >>> value = 3.0
        >>> cells = CellCounts(np.array([np.nextafter(value, -np.inf), value]), np.array([0, 5, 0]))
        >>> cells.holds_only(value), cells.holds_only(2.0)
        (True, False)
        """
        index = int(np.searchsorted(self.edges, value))
        if index == 0 or index >= self.edges.size or float(self.edges[index]) != value:
            return False
        if float(self.edges[index - 1]) != float(np.nextafter(value, -np.inf)):
            return False
        return int(self.counts[index]) == self.n
