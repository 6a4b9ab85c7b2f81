"""Automatic choice of a drift method by column kind and sample size.

Used when config names no method (``compare_column(method=None)``). The rule
is: an exact or well-calibrated p-value test wherever one exists, paired
with an effect floor (see ``MethodSpec.effect_floor``) so that huge windows
do not call negligible shifts drift; a distance with a simulated noise floor
only where no test's large-sample approximation holds. The first matching
row wins; a row lists fall-backs in order, used when the preferred method
is not registered (or, for a distance, has no noise floor).

==============  ==================================================  ===========================
kind            when                                                method (fall-back)
==============  ==================================================  ===========================
numeric         any size                                            ks
categorical     2 categories, smaller side < 1,000 rows             fisher (chi2)
categorical     3+ categories, < 5 rows per category (smaller side) jensenshannon (psi)
categorical     otherwise                                           chi2
==============  ==================================================  ===========================

Why: KS is distribution-free and sees location, spread and shape, with an
exact p-value up to 10k rows per side and a KS-statistic floor of 0.04 (the
D of a 0.1 sd mean shift). Fisher's test is exact for a binary column where
chi-squared's approximation is rough. Sparse tables (Cochran: expected
counts under 5) break the chi-squared and G approximations, while a
distance's permutation noise floor (``detectors.noise``) is exact at any
size. Otherwise chi-squared, with a floor of 0.1 on Cohen's w between the
two share vectors (for a binary column a 0.1 sd shift of the indicator,
matched to KS's floor; it does not depend on the sample sizes).
``choice_table()`` returns the same table as Markdown for the README.

``n_categories`` is the number of categories across reference and current
(``compare_column`` counts the union); with none given a
categorical column gets ``chi2``. The choice depends on the current
window's size, so a column may change method between a quiet and a busy
window; every result names the method it used.

``form`` is what the test will see of the window (``"rows"``, or
``"counts"`` for a window summarised where it lives): a row's methods are
tried in order and the first that accepts the form is chosen. Every row has
one that accepts counts (``ks`` at the cell edges, the categorical tests),
so a summarised window gets the same choice.

>>> choose_method("numeric", 1_000_000, 100_000)
'ks'
>>> choose_method("categorical", 5_000, 300, n_categories=2)
'fisher'
>>> choose_method("categorical", 10_000, 2_000, n_categories=1_000) in {"jensenshannon", "psi"}
True
>>> choose_method("categorical", 1_000_000, 100_000, n_categories=1_000)
'chi2'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from detectors._kinds import ColumnKind, Form, check_kind
from detectors.registry import METHODS

SMALL_BINARY_N: Final = 1_000
"""Below this many rows on the smaller side, a binary column gets Fisher's exact test."""

MIN_ROWS_PER_CATEGORY: Final = 5
"""Below this many rows per category on the smaller side, a table counts as sparse.

Cochran's rule for chi-squared asks for expected counts of 5 or more; the
average count per category is the most the smallest expected count can be.
"""


@dataclass(frozen=True)
class ChoiceRule:
    """One row of the table: which methods (in order of preference) and why."""

    kind: ColumnKind
    when: str
    methods: tuple[str, ...]
    why: str


RULES: Final = (
    ChoiceRule(
        "numeric",
        "any size",
        ("ks",),
        "distribution-free, sees location, spread and shape; exact p-value up to 10k rows "
        "per side; KS statistic floor 0.04 (a 0.1 sd mean shift)",
    ),
    ChoiceRule(
        "categorical",
        f"2 categories and the smaller side < {SMALL_BINARY_N:,} rows",
        ("fisher", "chi2"),
        "exact at any size, where chi-squared's approximation is rough",
    ),
    ChoiceRule(
        "categorical",
        f"3+ categories and fewer than {MIN_ROWS_PER_CATEGORY} rows per category on the "
        "smaller side",
        ("jensenshannon", "psi"),
        "sparse tables break the chi-squared and G approximations; the distance's "
        "permutation noise floor is exact at any size",
    ),
    ChoiceRule(
        "categorical",
        "otherwise",
        ("chi2",),
        "the standard test of homogeneity; Cohen's w floor 0.1 (a 0.1 sd shift, "
        "whatever the sample sizes)",
    ),
)
"""The documented table, in order; ``choose_method`` implements it."""


def choose_method(
    kind: ColumnKind,
    n_reference: int,
    n_current: int,
    n_categories: int | None = None,
    form: Form = "rows",
) -> str:
    """Return the method for a column of ``kind`` with these sample sizes (see the table)."""
    kind = check_kind(kind)
    if min(n_reference, n_current, n_categories or 0) < 0:
        raise ValueError(
            "sample sizes and category counts must be >= 0, got "
            f"n_reference={n_reference}, n_current={n_current}, n_categories={n_categories}"
        )
    if kind == "numeric":
        return _first_available(RULES[0].methods, form)
    smaller = min(n_reference, n_current)
    if n_categories == 2 and smaller < SMALL_BINARY_N:
        return _first_available(RULES[1].methods, form)
    sparse = n_categories is not None and smaller < MIN_ROWS_PER_CATEGORY * n_categories
    if n_categories is not None and n_categories >= 3 and sparse:
        return _first_available(RULES[2].methods, form)
    return _first_available(RULES[3].methods, form)


def choice_table() -> str:
    """Return the table as README-ready Markdown.

    >>> print(choice_table().splitlines()[2])  # doctest: +ELLIPSIS
    | numeric | any size | `ks` | distribution-free, ...
    """
    lines = ["| kind | when | method | why |", "|---|---|---|---|"]
    for rule in RULES:
        methods = ", else ".join(f"`{name}`" for name in rule.methods)
        lines.append(f"| {rule.kind} | {rule.when} | {methods} | {rule.why} |")
    return "\n".join(lines) + "\n"


def _first_available(candidates: Sequence[str], form: Form) -> str:
    accepting = [name for name in candidates if name in METHODS and form in METHODS[name].forms]
    if not accepting:
        raise ValueError(f"no method among {list(candidates)} tests a window in the {form} form")
    for name in accepting:
        spec = METHODS[name]
        if spec.has_p_value or spec.noise_floor is not None:
            return name
    return accepting[-1]
