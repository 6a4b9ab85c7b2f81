"""The one registry from method names (as written in config) to their specs.

Adding a method is one function and one entry in ``_SPECS``; nothing
registers itself on import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from detectors._kinds import ColumnKind, check_kind
from detectors._outcome import MethodOutcome
from detectors._prepare import PreparedColumn
from detectors.chi2 import chi2_test
from detectors.ks import ks_test
from detectors.profile import ColumnProfile
from detectors.psi import psi_test
from detectors.wasserstein import wasserstein_test

MethodFunction = Callable[[ColumnProfile, PreparedColumn, float], MethodOutcome]
"""A method: fitted profile, cleaned current values, threshold -> outcome."""


class UnknownMethodError(ValueError):
    """A method name that is not in the registry (the message lists the known ones)."""


@dataclass(frozen=True, kw_only=True)
class MethodSpec:
    """Everything the daemon needs to know about one method.

    ``default_threshold`` is a significance level when ``has_p_value`` (drift
    when p < threshold) and otherwise a distance floor (drift when
    distance >= threshold). ``min_samples`` is the fewest usable values the
    method needs on each side.
    """

    name: str
    function: MethodFunction
    default_threshold: float
    kinds: frozenset[ColumnKind]
    has_p_value: bool
    description: str
    min_samples: int = 1


_SPECS: Final = (
    MethodSpec(
        name="ks",
        function=ks_test,
        default_threshold=0.05,
        kinds=frozenset({"numeric"}),
        has_p_value=True,
        description="two-sample Kolmogorov-Smirnov test; p-value vs alpha",
        min_samples=2,
    ),
    MethodSpec(
        name="wasserstein",
        function=wasserstein_test,
        default_threshold=0.1,
        kinds=frozenset({"numeric"}),
        has_p_value=False,
        description="Wasserstein-1 distance divided by the reference std",
    ),
    MethodSpec(
        name="chi2",
        function=chi2_test,
        default_threshold=0.05,
        kinds=frozenset({"categorical"}),
        has_p_value=True,
        description="chi-squared test of homogeneity on the 2 x k table; p-value vs alpha",
    ),
    MethodSpec(
        name="psi",
        function=psi_test,
        default_threshold=0.2,
        kinds=frozenset({"numeric", "categorical"}),
        has_p_value=False,
        description="population stability index over reference quantile bins or categories",
    ),
)

METHODS: Final[Mapping[str, MethodSpec]] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Read-only map from method name to spec."""

_DEFAULT_METHODS: Final[Mapping[ColumnKind, str]] = MappingProxyType(
    {"numeric": "ks", "categorical": "chi2"}
)


def get_method(name: str) -> MethodSpec:
    """Return the spec registered under ``name``.

    >>> get_method("ks").default_threshold
    0.05
    >>> get_method("kss")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detectors.registry.UnknownMethodError: unknown drift method 'kss'; known methods: chi2, ks, ...
    """
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(sorted(METHODS))
        raise UnknownMethodError(f"unknown drift method {name!r}; known methods: {known}") from None


def default_method(kind: ColumnKind) -> str:
    """Return the method used for a column kind when config names none."""
    return _DEFAULT_METHODS[check_kind(kind)]
