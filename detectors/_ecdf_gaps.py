"""The largest gaps between the ECDFs of two sorted samples, without merging them.

The Kolmogorov–Smirnov statistic is the largest of two gaps between the
reference ECDF ``F`` and the current ECDF ``G``: ``max F - G`` and
``max G - F`` over the pooled values. ``ks_2samp`` evaluates both ECDFs at
every pooled value, which sorts and binary-searches the pooled sample; the
profile's reference is already sorted, so merging would still touch every
reference value on every run. Here both samples are sorted and only a
coarse grid is searched:

* ``F - G`` only rises at reference values, so its largest value lies just
  before some current value: at current index ``k`` (the first of its
  ties) it is ``#(reference < c_k) / n1 - k / n2``. ``G - F`` only rises at
  current values: at index ``k`` (the last of its ties) it is
  ``(k + 1) / n2 - #(reference <= c_k) / n1``. At any other index the same
  formulas undershoot, so the maximum over all indices is the statistic.
* The current indices are cut into blocks of ``BLOCK``. The search at
  each block's first value gives the formulas' exact values there and,
  with the next block's, a bound on every value inside (a count inside
  lies between the two), so only blocks whose bound beats the best exact
  value found are searched in full. The ECDF gap moves little within a
  block, so few are: the work is ``O(n2 / BLOCK log n1)`` plus a few
  blocks, not ``O((n1 + n2) log)``. Ties change nothing: inside a run of
  equal current values the bounds are the run's own values, so only the
  block where a run ends is searched.

The counts are the ones ``ks_2samp`` divides, with the same arithmetic
(each count divided by its sample size, then subtracted), and rounding is
monotone, so a bound never falls below a value it covers and the two gaps
are bit-identical to the ``maxS`` and ``minS`` of ``ks_2samp``.

>>> import numpy as np
>>> largest_ecdf_gaps(np.array([1.0, 2.0, 3.0]), np.array([2.5, 4.0]))
(0.6666666666666666, 0.0)
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

BLOCK: Final = 128
"""Current values per block of the coarse grid.

Larger blocks search fewer grid points but loosen each block's bound
(by about ``BLOCK / n`` in ECDF units), so more blocks near the largest gap
are searched in full. With 1M values a side, 128 searches 8k grid points
and opens some 150 to 250 blocks under no drift, fewer under drift: about
3 ms, where 64 or 256 take longer and 1,024 opens nearly every block.
"""


def largest_ecdf_gaps(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """Return ``(max F - G, max G - F)`` over the pooled values of two ascending samples.

    ``F`` is the ECDF of ``reference`` and ``G`` that of ``current``, both
    right-continuous; neither input is modified. The second gap is never
    negative (it is 0 at the largest current value at worst).
    """
    n1, n2 = reference.size, current.size
    starts = np.arange(0, n2, BLOCK)
    ends = np.minimum(starts + BLOCK, n2) - 1
    first = current[starts]
    below_first = np.searchsorted(reference, first, side="left")
    upto_first = _at_or_below(reference, first, below_first)
    above = float(_rises_above(below_first, starts, n1, n2).max())
    below = float(_rises_below(upto_first, starts, n1, n2).max())
    # Inside a block, fewer reference values lie below c_k than below the next
    # block's first value, and at least as many at or below c_k as at or below
    # the block's own first value: so neither gap inside can beat these bounds.
    below_next = np.append(below_first[1:], n1)
    open_blocks = (_rises_above(below_next, starts, n1, n2) > above) | (
        _rises_below(upto_first, ends, n1, n2) > below
    )
    if open_blocks.any():
        inside = _indices_of_blocks(starts[open_blocks], ends[open_blocks] + 1)
        values = current[inside]
        below_values = np.searchsorted(reference, values, side="left")
        upto_values = _at_or_below(reference, values, below_values)
        above = max(above, float(_rises_above(below_values, inside, n1, n2).max()))
        below = max(below, float(_rises_below(upto_values, inside, n1, n2).max()))
    return above, below


def _at_or_below(reference: FloatArray, values: FloatArray, below: IntArray) -> IntArray:
    """``#(reference <= v)`` from ``#(reference < v)``: more only where the next one ties.

    One binary search per value instead of two: continuous data has no
    ties, and a tied value is searched again on its own.
    """
    tied = reference[np.minimum(below, reference.size - 1)] == values
    if not tied.any():
        return below
    upto = below.copy()
    upto[tied] = np.searchsorted(reference, values[tied], side="right")
    return upto


def _rises_above(reference_counts: IntArray, index: IntArray, n1: int, n2: int) -> FloatArray:
    """``F - G`` just before current index ``index``, ``reference_counts`` values being below it."""
    difference: FloatArray = reference_counts / n1 - index / n2
    return difference


def _rises_below(reference_counts: IntArray, index: IntArray, n1: int, n2: int) -> FloatArray:
    """``G - F`` at current index ``index``, ``reference_counts`` values being at or below it."""
    difference: FloatArray = (index + 1) / n2 - reference_counts / n1
    return difference


def _indices_of_blocks(starts: IntArray, stops: IntArray) -> IntArray:
    """Concatenate ``range(start, stop)`` for each block, without a Python loop.

    >>> _indices_of_blocks(np.array([0, 10]), np.array([3, 12])).tolist()
    [0, 1, 2, 10, 11]
    """
    lengths = stops - starts
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    indices: IntArray = np.arange(int(lengths.sum())) + offsets
    return indices
