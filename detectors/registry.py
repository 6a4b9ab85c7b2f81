"""The one registry from method names (as written in config) to their specs.

Adding a method is one function and one entry in ``_SPECS``; nothing
registers itself on import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from detectors._kinds import ColumnKind, Form, check_kind
from detectors._outcome import MethodOutcome
from detectors._prepare import PreparedColumn
from detectors.anderson import anderson_test
from detectors.chi2 import chi2_test
from detectors.cramervonmises import cvm_test
from detectors.energy import energy_test
from detectors.fisher import fisher_test
from detectors.gtest import g_test
from detectors.hellinger import hellinger_distance, hellinger_test
from detectors.jensenshannon import jensen_shannon_distance, jensenshannon_test
from detectors.kl import kl_divergence, kl_test
from detectors.ks import ks_test
from detectors.linf import linf_distance, linf_test
from detectors.mannwhitney import mannwhitney_test
from detectors.noise import (
    NoiseFloor,
    histogram_noise_floor,
    normed_energy_noise_floor,
    normed_wasserstein_noise_floor,
)
from detectors.profile import ColumnProfile
from detectors.psi import population_stability_index, psi_test
from detectors.total_variation import total_variation_distance, tv_test
from detectors.wasserstein import wasserstein_test
from detectors.welch import welch_test
from detectors.ztest import z_test

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

    ``effect_floor`` (p-value tests) is the smallest effect called drift:
    a column is drifted only when significant AND its effect (the outcome's
    ``effect``, named ``effect_name`` in reasons) is at least this floor, so
    that a million-row window does not call a negligible shift drift.
    ``statistic_is_effect`` says the statistic itself does not grow with n
    (KS's D) and serves as the effect when the outcome sets none.
    ``noise_floor`` (distances) gives the distance sampling noise reaches
    under no drift at this run's sizes, exceeded with probability ``level``
    (the false-alarm rate, ``compare_column(noise_level=...)``, 0.01 by
    default); the distance is compared with max(threshold, noise floor).
    See ``detectors.noise``.

    ``forms`` are the forms of the current window the method can test
    (``detectors._kinds.Form``): every method tests "rows"; "counts" (a
    window summarised where it lives, ``detectors.window_summary``) is
    accepted by the methods that read nothing but counts: the categorical
    tests and distances, which count categories anyway, the binned
    distances of numeric columns (their bins are among the summary's
    cells) and KS, taken at the cell edges (never above the exact
    statistic, so its p-value keeps the level). The methods that need the
    values themselves (ranks, distances between values, moments) do not:
    anderson, cvm, energy, mannwhitney, wasserstein, welch.
    """

    name: str
    function: MethodFunction
    default_threshold: float
    kinds: frozenset[ColumnKind]
    has_p_value: bool
    description: str
    min_samples: int = 1
    effect_floor: float | None = None
    effect_name: str = "effect"
    statistic_is_effect: bool = False
    noise_floor: NoiseFloor | None = None
    forms: frozenset[Form] = frozenset({"rows"})


ROWS_OR_COUNTS: Final[frozenset[Form]] = frozenset({"rows", "counts"})

_SPECS: Final = (
    MethodSpec(
        name="ks",
        function=ks_test,
        default_threshold=0.05,
        kinds=frozenset({"numeric"}),
        has_p_value=True,
        description="two-sample Kolmogorov-Smirnov test; p-value vs alpha",
        min_samples=2,
        effect_floor=0.04,
        effect_name="KS statistic",
        statistic_is_effect=True,
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="wasserstein",
        function=wasserstein_test,
        default_threshold=0.1,
        kinds=frozenset({"numeric"}),
        has_p_value=False,
        description="Wasserstein-1 distance divided by the reference std",
        effect_name="normed Wasserstein",
        noise_floor=normed_wasserstein_noise_floor,
    ),
    MethodSpec(
        name="chi2",
        function=chi2_test,
        default_threshold=0.05,
        kinds=frozenset({"categorical"}),
        has_p_value=True,
        description="chi-squared test of homogeneity on the 2 x k table; p-value vs alpha",
        effect_floor=0.1,  # a 0.1 sd shift of a binary indicator (detectors._categories)
        effect_name="Cohen's w",
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="psi",
        function=psi_test,
        default_threshold=0.2,
        kinds=frozenset({"numeric", "categorical"}),
        has_p_value=False,
        description="population stability index over reference quantile bins or categories",
        effect_name="PSI",
        noise_floor=histogram_noise_floor(population_stability_index),
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="gtest",
        function=g_test,
        default_threshold=0.05,
        kinds=frozenset({"categorical"}),
        has_p_value=True,
        description="G-test (log-likelihood ratio) of homogeneity on the 2 x k table; p vs alpha",
        effect_floor=0.1,  # a 0.1 sd shift of a binary indicator (detectors._categories)
        effect_name="Cohen's w",
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="fisher",
        function=fisher_test,
        default_threshold=0.05,
        kinds=frozenset({"categorical"}),
        has_p_value=True,
        description="Fisher's exact test on the 2 x 2 table of a binary column; p-value vs alpha",
        effect_floor=0.1,  # a 0.1 sd shift of the indicator (detectors._categories)
        effect_name="Cohen's w",
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="ztest",
        function=z_test,
        default_threshold=0.05,
        kinds=frozenset({"categorical"}),
        has_p_value=True,
        description="two-proportion Z-test (pooled) of a binary column; p-value vs alpha",
        effect_floor=0.1,  # a 0.1 sd shift of the indicator (detectors._categories)
        effect_name="Cohen's w",
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="jensenshannon",
        function=jensenshannon_test,
        default_threshold=0.1,
        kinds=frozenset({"numeric", "categorical"}),
        has_p_value=False,
        description="Jensen-Shannon distance (base 2) over reference quantile bins or categories",
        effect_name="JS distance",
        noise_floor=histogram_noise_floor(jensen_shannon_distance),
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="hellinger",
        function=hellinger_test,
        default_threshold=0.1,
        kinds=frozenset({"numeric", "categorical"}),
        has_p_value=False,
        description="Hellinger distance over reference quantile bins or categories",
        effect_name="Hellinger distance",
        noise_floor=histogram_noise_floor(hellinger_distance),
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="kl",
        function=kl_test,
        default_threshold=0.1,
        kinds=frozenset({"numeric", "categorical"}),
        has_p_value=False,
        description="KL divergence reference || current (nats) over quantile bins or categories",
        effect_name="KL divergence",
        noise_floor=histogram_noise_floor(kl_divergence),
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="linf",
        function=linf_test,
        default_threshold=0.1,
        kinds=frozenset({"categorical"}),
        has_p_value=False,
        description="L-infinity distance: the largest change of one category's share",
        effect_name="L-infinity distance",
        noise_floor=histogram_noise_floor(linf_distance),
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="tv",
        function=tv_test,
        default_threshold=0.1,
        kinds=frozenset({"categorical"}),
        has_p_value=False,
        description="total variation distance: half the summed change of category shares",
        effect_name="total variation distance",
        noise_floor=histogram_noise_floor(total_variation_distance),
        forms=ROWS_OR_COUNTS,
    ),
    MethodSpec(
        name="anderson",
        function=anderson_test,
        default_threshold=0.05,
        kinds=frozenset({"numeric"}),
        has_p_value=True,
        description="k-sample Anderson-Darling (midrank, k=2); table p-value in [0.001, 0.25]",
        min_samples=2,
        effect_floor=0.07,  # ~ a 0.1 sd normal mean shift, like KS's 0.04 (detectors/anderson.py)
        effect_name="RMS weighted ECDF gap",
    ),
    MethodSpec(
        name="cvm",
        function=cvm_test,
        default_threshold=0.05,
        kinds=frozenset({"numeric"}),
        has_p_value=True,
        description="two-sample Cramer-von Mises test; p-value vs alpha",
        min_samples=2,
        effect_floor=0.03,  # ~ a 0.1 sd normal mean shift: 0.303 * 0.1
        effect_name="RMS ECDF gap",
    ),
    MethodSpec(
        name="energy",
        function=energy_test,
        default_threshold=0.1,
        kinds=frozenset({"numeric"}),
        has_p_value=False,
        description="energy distance divided by the reference std",
        effect_name="normed energy distance",
        noise_floor=normed_energy_noise_floor,
    ),
    MethodSpec(
        name="mannwhitney",
        function=mannwhitney_test,
        default_threshold=0.05,
        kinds=frozenset({"numeric"}),
        has_p_value=True,
        description="two-sided Mann-Whitney U rank test of location; p-value vs alpha",
        effect_floor=0.056,  # ~ a 0.1 sd normal mean shift: 2 phi(0) / sqrt(2) * 0.1
        effect_name="|rank-biserial correlation|",
    ),
    MethodSpec(
        name="welch",
        function=welch_test,
        default_threshold=0.05,
        kinds=frozenset({"numeric"}),
        has_p_value=True,
        description="Welch's unequal-variance t-test of the mean; p-value vs alpha",
        min_samples=2,
        effect_floor=0.1,  # a 0.1 sd mean shift
        effect_name="|Cohen's d|",
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
    detectors.registry.UnknownMethodError: unknown drift method 'kss'; known methods: ...ks, ...
    """
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(sorted(METHODS))
        raise UnknownMethodError(f"unknown drift method {name!r}; known methods: {known}") from None


def methods_accepting(form: Form, kind: ColumnKind) -> list[str]:
    """The names of the methods that test ``kind`` columns in ``form``, sorted.

    >>> methods_accepting("counts", "numeric")
    ['hellinger', 'jensenshannon', 'kl', 'ks', 'psi']
    """
    return sorted(
        name for name, spec in METHODS.items() if form in spec.forms and kind in spec.kinds
    )


def default_method(kind: ColumnKind) -> str:
    """Return the method used for a column kind when config names none."""
    return _DEFAULT_METHODS[check_kind(kind)]
