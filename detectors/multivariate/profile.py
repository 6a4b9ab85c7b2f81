"""Fitting a reference table into a reusable, serialisable multivariate profile.

The profile holds everything a whole-row test needs from the reference, so a
run costs O(current window): the frozen row encoding (see
``detectors.multivariate._encoding``), a bounded seeded uniform subsample of
encoded reference rows for MMD, the RBF bandwidth from the median heuristic
on that subsample, and a PCA model with the held-out reconstruction errors of
the reference rows from which a window's threshold is derived.

>>> import numpy as np
>>> import pandas as pd
>>> rng = np.random.default_rng(7)
>>> reference = pd.DataFrame({"x": rng.normal(size=300), "tier": rng.choice(["a", "b"], 300)})
>>> profile = fit_multivariate(reference, [("x", "numeric"), ("tier", "categorical")])
>>> profile.reference_rows.shape, round(profile.bandwidth, 4), profile.pca_components.shape
((300, 4), 1.5088, (2, 4))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors._kinds import ColumnKind, check_kind
from detectors.multivariate._encoding import (
    CategoricalEncoding,
    EncodedRows,
    Encoding,
    NumericEncoding,
    check_columns,
    check_present,
    encode_rows,
    fit_categorical,
    fit_numeric,
)
from detectors.multivariate._kernel import median_bandwidth
from detectors.multivariate._pca import (
    chunk_threshold,
    fit_components,
    held_out_errors,
    n_components_for,
)

PROFILE_FORMAT: Final = 1
"""Version of the ``to_dict`` layout, stored so that old profiles can be recognised."""

ROUNDING_FLOOR: Final = 1e-9
"""Relative size below which a reconstruction error is rounding noise, not signal."""

MIN_REFERENCE_ROWS: Final = 10
"""Fewest reference rows a profile is fitted from (PCA's held-out folds need a few each)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class MultivariateProfile:
    """Fitted summary of a reference table for whole-row tests.

    ``reference_rows`` are encoded reference rows: all of them, or a uniform
    seeded subsample of ``max_rows`` (then ``subsampled`` is True). The
    encoding's means, deviations and top categories come from every reference
    row; the bandwidth and the PCA model from ``reference_rows``.
    ``pca_reference_errors`` are the sorted reconstruction errors of
    ``reference_rows`` under models fitted without them (two seeded folds).
    """

    columns: tuple[tuple[str, ColumnKind], ...]
    encodings: tuple[Encoding, ...]
    n_rows: int
    reference_rows: npt.NDArray[np.float64]
    subsampled: bool
    bandwidth: float
    pca_mean: npt.NDArray[np.float64]
    pca_components: npt.NDArray[np.float64]
    pca_variance_explained: float
    pca_reference_errors: npt.NDArray[np.float64]
    threshold_quantile: float
    seed: int

    @property
    def width(self) -> int:
        """Number of coordinates of an encoded row."""
        return sum(encoding.width for encoding in self.encodings)

    def encode(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Encode every row of ``frame`` as the reference was (``frame`` is not modified)."""
        return self.encode_rows(frame, np.arange(len(frame))).matrix

    def encode_rows(self, frame: pd.DataFrame, rows: npt.NDArray[np.intp]) -> EncodedRows:
        """Encode the rows of ``frame`` at positions ``rows``, with counts of what was imputed."""
        names = [name for name, _ in self.columns]
        check_present(frame, names, "current")
        selected = {name: frame[name].iloc[rows] for name in names}
        return encode_rows(self.encodings, selected, int(rows.size))

    def reconstruction_threshold(self, n_rows: int) -> float:
        """Mean reconstruction error a window of ``n_rows`` rows exceeds with probability
        ``1 - threshold_quantile`` when nothing changed.

        A seeded bootstrap of the held-out reference errors (see
        ``detectors.multivariate._pca.chunk_threshold``), but never below
        ``ROUNDING_FLOOR`` times the reference rows' mean squared norm: when
        the components span the reference exactly (one-hot blocks and exact
        relations between columns make that common), every error is rounding
        noise, and only a row that leaves the span should count.
        """
        if n_rows < 1:
            raise ValueError(f"n_rows must be at least 1, got {n_rows}")
        centred = self.reference_rows - self.pca_mean
        mean_square = float(np.einsum("ij,ij->", centred, centred)) / max(1, len(centred))
        bootstrap = chunk_threshold(
            self.pca_reference_errors, n_rows, self.threshold_quantile, self.seed
        )
        return max(bootstrap, ROUNDING_FLOOR * max(1.0, mean_square))

    def __eq__(self, other: object) -> bool:
        # Field-wise equality; the dataclass default would compare arrays with ``==``.
        if not isinstance(other, MultivariateProfile):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as JSON-safe data; floats survive ``json.dumps``/``loads`` exactly."""
        return {
            "format": PROFILE_FORMAT,
            "columns": [[name, kind] for name, kind in self.columns],
            "encodings": [_encoding_dict(encoding) for encoding in self.encodings],
            "n_rows": self.n_rows,
            "reference_rows": _float_rows(self.reference_rows),
            "subsampled": self.subsampled,
            "bandwidth": float(self.bandwidth),
            "pca_mean": _float_list(self.pca_mean),
            "pca_components": _float_rows(self.pca_components),
            "pca_variance_explained": float(self.pca_variance_explained),
            "pca_reference_errors": _float_list(self.pca_reference_errors),
            "threshold_quantile": float(self.threshold_quantile),
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MultivariateProfile:
        """Rebuild a profile from ``to_dict`` output; unknown layouts raise ValueError."""
        if data.get("format") != PROFILE_FORMAT:
            raise ValueError(
                f"unsupported multivariate profile format {data.get('format')!r}; "
                f"expected {PROFILE_FORMAT}"
            )
        expected = {
            "format",
            "columns",
            "encodings",
            "n_rows",
            "reference_rows",
            "subsampled",
            "bandwidth",
            "pca_mean",
            "pca_components",
            "pca_variance_explained",
            "pca_reference_errors",
            "threshold_quantile",
            "seed",
        }
        if set(data) != expected:
            raise ValueError(
                f"multivariate profile keys differ from the expected ones: "
                f"missing {sorted(expected - set(data))}, "
                f"unexpected {sorted(set(data) - expected)}"
            )
        columns = check_columns([(name, kind) for name, kind in data["columns"]])
        encodings = tuple(_encoding_from_dict(item) for item in data["encodings"])
        if [encoding.column for encoding in encodings] != [name for name, _ in columns]:
            raise ValueError("multivariate profile encodings do not match its columns")
        width = sum(encoding.width for encoding in encodings)
        profile = cls(
            columns=columns,
            encodings=encodings,
            n_rows=int(data["n_rows"]),
            reference_rows=_float_matrix(data["reference_rows"], width),
            subsampled=bool(data["subsampled"]),
            bandwidth=float(data["bandwidth"]),
            pca_mean=np.asarray(data["pca_mean"], dtype=np.float64),
            pca_components=_float_matrix(data["pca_components"], width),
            pca_variance_explained=float(data["pca_variance_explained"]),
            pca_reference_errors=np.asarray(data["pca_reference_errors"], dtype=np.float64),
            threshold_quantile=float(data["threshold_quantile"]),
            seed=int(data["seed"]),
        )
        if profile.pca_mean.shape != (width,):
            raise ValueError(f"pca_mean has {profile.pca_mean.size} entries, expected {width}")
        return profile


def fit_multivariate(
    reference: pd.DataFrame,
    columns: Sequence[tuple[str, ColumnKind]],
    *,
    max_rows: int = 2000,
    max_categories: int = 20,
    variance_explained: float = 0.95,
    max_components: int = 50,
    threshold_quantile: float = 0.99,
    seed: int = 0,
) -> MultivariateProfile:
    """Fit the row encoding, MMD reference sample and PCA model of ``reference``.

    ``max_rows`` bounds the stored sample and every later test's kernel
    matrix; above it a uniform subsample drawn with ``seed`` stands in for the
    reference. ``max_categories`` bounds a categorical column's one-hot block
    (the rest share an "other" coordinate). PCA keeps the fewest components
    explaining ``variance_explained`` of the variance, at most
    ``max_components``. A PCA window is drifted when its mean error exceeds
    the ``threshold_quantile`` of unchanged windows of its size.

    A reference with fewer than ``MIN_REFERENCE_ROWS`` rows, missing columns
    or unparsable numbers raises ValueError: a reference is chosen
    deliberately, and a bad one is a configuration error, not a run outcome.
    ``reference`` is never modified.
    """
    checked = check_columns(columns)
    _check_fit_parameters(max_rows, max_categories, variance_explained, threshold_quantile)
    if max_components < 0:
        raise ValueError(f"max_components must be at least 0, got {max_components}")
    names = [name for name, _ in checked]
    check_present(reference, names, "reference")
    n_rows = len(reference)
    if n_rows < MIN_REFERENCE_ROWS:
        raise ValueError(
            f"a multivariate profile needs at least {MIN_REFERENCE_ROWS} reference rows, "
            f"got {n_rows}"
        )
    encodings = tuple(
        fit_numeric(reference[name], name)
        if kind == "numeric"
        else fit_categorical(reference[name], name, max_categories)
        for name, kind in checked
    )
    rng = np.random.default_rng(seed)
    subsampled = n_rows > max_rows
    positions = (
        np.sort(rng.choice(n_rows, size=max_rows, replace=False))
        if subsampled
        else np.arange(n_rows)
    )
    selected = {name: reference[name].iloc[positions] for name in names}
    rows = encode_rows(encodings, selected, int(positions.size)).matrix
    n_components = n_components_for(rows, variance_explained, max_components)
    pca_mean, pca_components, share = fit_components(rows, n_components)
    return MultivariateProfile(
        columns=checked,
        encodings=encodings,
        n_rows=n_rows,
        reference_rows=rows,
        subsampled=subsampled,
        bandwidth=median_bandwidth(rows),
        pca_mean=pca_mean,
        pca_components=pca_components,
        pca_variance_explained=share,
        pca_reference_errors=held_out_errors(rows, n_components, rng),
        threshold_quantile=threshold_quantile,
        seed=seed,
    )


def _check_fit_parameters(
    max_rows: int, max_categories: int, variance_explained: float, threshold_quantile: float
) -> None:
    if max_rows < MIN_REFERENCE_ROWS:
        raise ValueError(f"max_rows must be at least {MIN_REFERENCE_ROWS}, got {max_rows}")
    if max_categories < 1:
        raise ValueError(f"max_categories must be at least 1, got {max_categories}")
    if not 0.0 < variance_explained <= 1.0:
        raise ValueError(f"variance_explained must be in (0, 1], got {variance_explained}")
    if not 0.0 < threshold_quantile < 1.0:
        raise ValueError(f"threshold_quantile must be in (0, 1), got {threshold_quantile}")


def _encoding_dict(encoding: Encoding) -> dict[str, Any]:
    if isinstance(encoding, NumericEncoding):
        return {
            "column": encoding.column,
            "kind": "numeric",
            "mean": float(encoding.mean),
            "scale": float(encoding.scale),
            "missing_indicator": encoding.missing_indicator,
        }
    return {
        "column": encoding.column,
        "kind": "categorical",
        "categories": list(encoding.categories),
    }


def _encoding_from_dict(data: dict[str, Any]) -> Encoding:
    kind = check_kind(data["kind"])
    if kind == "numeric":
        return NumericEncoding(
            column=str(data["column"]),
            mean=float(data["mean"]),
            scale=float(data["scale"]),
            missing_indicator=bool(data["missing_indicator"]),
        )
    return CategoricalEncoding(
        column=str(data["column"]), categories=tuple(str(c) for c in data["categories"])
    )


def _float_list(values: npt.NDArray[np.float64]) -> list[float]:
    return [float(v) for v in values.tolist()]


def _float_rows(values: npt.NDArray[np.float64]) -> list[list[float]]:
    return [[float(v) for v in row] for row in values.tolist()]


def _float_matrix(rows: list[list[float]], width: int) -> npt.NDArray[np.float64]:
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), width)
    return matrix
