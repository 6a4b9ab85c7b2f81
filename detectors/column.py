"""Running one registered method on one column, with the shared bad-data checks.

Bad data is a result, not a crash: an empty window, a column that is all
missing, unparsable or infinite values, too few values, a categorical
column that looks like an identifier, or a column holding one and the same
value on both sides each produce a ColumnResult with a status that says
what happened and ``drifted=False``.
Only programming or configuration errors (unknown method, a method that
does not fit the column kind, a bad threshold) raise.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Final

import numpy as np
import pandas as pd

from detectors._forms import counted_profile, form_details, form_sentence
from detectors._histograms import histograms
from detectors._kinds import ResultStatus
from detectors._outcome import MethodOutcome, format_number, significance_and_size_reason
from detectors._prepare import PreparedColumn, prepare_categorical, prepare_numeric
from detectors.choice import choose_method
from detectors.noise import DEFAULT_NOISE_LEVEL, percentile_label
from detectors.profile import ColumnProfile
from detectors.registry import MethodSpec, get_method, methods_accepting
from detectors.result import ColumnResult

IDENTIFIER_DISTINCT_SHARE: Final = 0.9
"""A categorical reference with at least this share of distinct values looks like an identifier.

Such a column (user ids, order numbers, free text, timestamps stored as
text) has about one row per category: every new window is all new
categories, so every test calls it drift and no floor can help. 0.9 leaves
room for a few repeated ids while staying far above any real category
column: 1,000 categories in 10,000 rows is a share of 0.1.
"""

IDENTIFIER_MIN_VALUES: Final = 20
"""Fewest usable reference values for the identifier rule; smaller references are all distinct
by chance (ten rows of a 50-category column), so they are tested as usual."""


def compare_column(
    profile: ColumnProfile,
    current: pd.Series,
    *,
    method: str | None = None,
    threshold: float | None = None,
    effect_floor: float | None = None,
    noise_level: float | None = None,
) -> ColumnResult:
    """Test ``current`` against a fitted reference ``profile``.

    ``method`` defaults to the automatic choice for the column's kind and
    sample sizes (``detectors.choice.choose_method``) and ``threshold`` to
    the method's default. ``current`` is never modified. Missing values are
    excluded and counted; infinities in a numeric column are excluded and
    counted; both appear in ``details``.

    Drift needs significance AND size. A p-value test is drifted when
    ``p < threshold`` and its effect is at least ``effect_floor`` (default:
    the method's ``MethodSpec.effect_floor``; pass 0 to rely on
    significance alone). A distance is drifted when it is at least
    ``max(threshold, noise floor)``, the noise floor being the distance that
    sampling noise alone reaches at these sample sizes (``detectors.noise``);
    ``threshold`` in the result is that effective level and ``details`` holds
    ``configured_threshold`` and ``noise_floor``. A distance's floor is its
    threshold, so ``effect_floor`` is rejected for distances.

    ``noise_level`` is the false-alarm rate the noise floor allows (default
    None: ``detectors.noise.DEFAULT_NOISE_LEVEL``, 0.01): the floor is the
    (1 - noise_level) quantile of the distance under no drift, e.g. 1e-5
    when a false-alarm budget is spread over many columns and runs. It
    applies to distances only; a p-value test's level is its ``threshold``.

    Before any method runs, a categorical reference that looks like an
    identifier (at least ``IDENTIFIER_MIN_VALUES`` usable values, of which
    a share of at least ``IDENTIFIER_DISTINCT_SHARE`` distinct) gets status
    "identifier", and a column whose reference and current hold one and the
    same single value gets status "constant"; neither is drifted. A constant
    reference with other values in the current window is tested as usual:
    that is a real change.

    >>> import numpy as np
    >>> from detectors import fit_profile
    >>> rng = np.random.default_rng(0)
    >>> profile = fit_profile(pd.Series(rng.normal(0, 1, 1_000_000), name="x"), "numeric")
    >>> tiny = compare_column(profile, pd.Series(rng.normal(0.01, 1, 1_000_000)))
    >>> tiny.drifted, tiny.p_value < 0.05, tiny.effect < tiny.effect_floor
    (False, True, True)
    >>> tiny.reason  # doctest: +ELLIPSIS
    'p-value ... < 0.05 and KS statistic 0.00... < floor 0.04: significant but too small to ...'
    >>> compare_column(profile, pd.Series(rng.normal(0.5, 1, 1_000_000))).drifted
    True
    """
    return compare_prepared(
        profile,
        prepare_column(profile, current),
        method=method,
        threshold=threshold,
        effect_floor=effect_floor,
        noise_level=noise_level,
    )


def prepare_column(profile: ColumnProfile, current: pd.Series) -> PreparedColumn:
    """Clean and count ``current`` the way its profile's kind is tested (``detectors._prepare``).

    Prepared once, a window serves every test and sketch of the column.
    """
    return prepare_numeric(current) if profile.kind == "numeric" else prepare_categorical(current)


def compare_prepared(
    profile: ColumnProfile,
    prepared: PreparedColumn,
    *,
    method: str | None = None,
    threshold: float | None = None,
    effect_floor: float | None = None,
    noise_level: float | None = None,
) -> ColumnResult:
    """``compare_column`` on values already cleaned and counted (e.g. pooled category counts)."""
    if method is None:
        n_categories = (
            len(set(profile.category_counts or {}) | set(prepared.category_counts or {}))
            if profile.kind == "categorical"
            else None
        )
        method = choose_method(
            profile.kind, profile.n, prepared.n_usable, n_categories, form=prepared.form
        )
    spec = get_method(method)
    if profile.kind not in spec.kinds:
        raise ValueError(
            f"method {spec.name!r} cannot test column {profile.column!r} of kind "
            f"{profile.kind!r}; it accepts {sorted(spec.kinds)}"
        )
    if prepared.form not in spec.forms:
        raise ValueError(
            f"method {spec.name!r} needs the window's rows and cannot test column "
            f"{profile.column!r} summarised as counts; methods that can: "
            f"{', '.join(methods_accepting(prepared.form, profile.kind))}"
        )
    level = spec.default_threshold if threshold is None else float(threshold)
    _check_threshold(spec, level)
    _check_effect_floor(spec, effect_floor)
    false_alarm_level = _check_noise_level(noise_level)
    common = _common_details(profile, prepared)
    bad = (
        _bad_data_outcome(profile, prepared, spec)
        or _identifier_outcome(profile)
        or _constant_outcome(profile, prepared)
    )
    if bad is not None:
        return _result(profile, prepared, spec, bad, threshold=level, details=common)
    profile = counted_profile(profile, prepared)
    if not spec.has_p_value:
        return _distance_result(profile, prepared, spec, level, common, false_alarm_level)
    outcome = spec.function(profile, prepared, level)
    if outcome.status != "ok" or outcome.p_value is None:
        return _result(profile, prepared, spec, outcome, threshold=level, details=common)
    effect = outcome.effect
    if effect is None and spec.statistic_is_effect:
        effect = outcome.statistic
    floor = spec.effect_floor if effect_floor is None else float(effect_floor)
    if effect is None:
        floor = None
    # The method's own verdict is "p < level"; it may also refuse (e.g. identical constant data).
    significant = outcome.drifted
    drifted = significant and (floor is None or effect is None or effect >= floor)
    reason = significance_and_size_reason(
        significance=outcome.reason,
        significant=significant,
        effect_name=spec.effect_name,
        effect=effect,
        effect_floor=floor,
    )
    decided = dataclasses.replace(outcome, drifted=drifted, reason=reason, effect=effect)
    return _result(
        profile, prepared, spec, decided, threshold=level, details=common, effect_floor=floor
    )


def _distance_result(
    profile: ColumnProfile,
    prepared: PreparedColumn,
    spec: MethodSpec,
    configured: float,
    common: dict[str, Any],
    noise_level: float,
) -> ColumnResult:
    """Run a distance at max(configured threshold, noise floor) and say which one applied."""
    noise = (
        spec.noise_floor(profile, prepared, noise_level) if spec.noise_floor is not None else None
    )
    effective = configured if noise is None else max(configured, noise)
    outcome = spec.function(profile, prepared, effective)
    details = {
        **common,
        "configured_threshold": configured,
        "noise_floor": noise,
        "noise_level": noise_level,
    }
    if outcome.status != "ok":
        return _result(profile, prepared, spec, outcome, threshold=effective, details=details)
    effect = outcome.effect if outcome.effect is not None else outcome.statistic
    reason = outcome.reason
    if noise is not None and noise > configured:
        reason = (
            f"{reason} (the noise floor: {format_number(noise)} is the "
            f"{percentile_label(noise_level)} percentile of "
            f"{spec.name} under no drift at n_reference={profile.n}, "
            f"n_current={prepared.n_usable}; configured threshold {format_number(configured)})"
        )
    decided = dataclasses.replace(outcome, reason=reason, effect=effect)
    return _result(
        profile,
        prepared,
        spec,
        decided,
        threshold=effective,
        details=details,
        effect_floor=None if effect is None else effective,
    )


def _result(
    profile: ColumnProfile,
    prepared: PreparedColumn,
    spec: MethodSpec,
    outcome: MethodOutcome,
    *,
    threshold: float,
    details: dict[str, Any],
    effect_floor: float | None = None,
) -> ColumnResult:
    ok = outcome.status == "ok"
    merged = {**details, **outcome.details}
    if ok and "reference_counts" not in merged:
        merged.update(_report_histograms(profile, prepared))
    return ColumnResult(
        column=profile.column,
        method=spec.name,
        statistic=outcome.statistic,
        p_value=outcome.p_value,
        threshold=threshold,
        drifted=outcome.drifted and ok,
        n_reference=outcome.n_reference,
        n_current=prepared.n_usable,
        status=outcome.status,
        reason=outcome.reason + form_sentence(merged, prepared.n_usable) if ok else outcome.reason,
        details=merged,
        effect=outcome.effect if ok else None,
        effect_floor=effect_floor if ok else None,
    )


def _report_histograms(profile: ColumnProfile, prepared: PreparedColumn) -> dict[str, Any]:
    """The two histograms a report draws, for the methods that do not count them to test.

    Numeric columns are counted into the profile's quantile bins, categorical
    ones by category (``detectors._histograms``), the same bins the binned
    methods test on. A hand-built numeric profile without bins gets none.
    """
    if profile.kind == "numeric" and profile.bin_edges is None:
        return {}
    return histograms(profile, prepared).details


def _check_effect_floor(spec: MethodSpec, effect_floor: float | None) -> None:
    if effect_floor is None:
        return
    if not spec.has_p_value:
        raise ValueError(
            f"effect_floor applies to p-value tests; {spec.name!r} is a distance, "
            "so its floor is its threshold"
        )
    if not math.isfinite(effect_floor) or effect_floor < 0:
        raise ValueError(
            f"effect_floor for {spec.name!r} must be a number >= 0, got {effect_floor}"
        )


def _check_noise_level(noise_level: float | None) -> float:
    if noise_level is None:
        return DEFAULT_NOISE_LEVEL
    level = float(noise_level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"noise_level must be a false-alarm rate in (0, 1), got {noise_level}")
    return level


def _check_threshold(spec: MethodSpec, threshold: float) -> None:
    if not math.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold for {spec.name!r} must be a positive number, got {threshold}")
    if spec.has_p_value and threshold >= 1:
        raise ValueError(
            f"threshold for {spec.name!r} is a significance level and must be below 1, "
            f"got {threshold}"
        )


def _bad_data_outcome(
    profile: ColumnProfile, current: PreparedColumn, spec: MethodSpec
) -> MethodOutcome | None:
    """Return the outcome for data that cannot be tested, or None when it can."""
    column = profile.column
    if current.n_total == 0:
        return _untestable(profile, "empty", "current window is empty")
    if current.n_missing == current.n_total:
        return _untestable(
            profile,
            "all_missing",
            f"all {current.n_total} current values of {column!r} are missing",
        )
    if current.n_unparsable:
        return _untestable(
            profile,
            "invalid_values",
            f"column {column!r} is numeric but {current.n_unparsable} current values are not "
            f"numbers, e.g. {list(current.unparsable_examples)}",
        )
    if current.n_usable == 0:
        return _untestable(
            profile,
            "invalid_values",
            f"column {column!r} has no finite current values ({current.n_infinite} infinite)",
        )
    if min(profile.n, current.n_usable) < spec.min_samples:
        return _untestable(
            profile,
            "insufficient_data",
            f"{spec.name} needs at least {spec.min_samples} usable values on each side; "
            f"reference has {profile.n}, current has {current.n_usable}",
        )
    return None


def looks_like_identifier(profile: ColumnProfile) -> bool:
    """Whether a categorical reference is nearly all distinct values (see ``IDENTIFIER_*``)."""
    counts = profile.category_counts
    if profile.kind != "categorical" or counts is None or profile.n < IDENTIFIER_MIN_VALUES:
        return False
    return len(counts) >= IDENTIFIER_DISTINCT_SHARE * profile.n


def _identifier_outcome(profile: ColumnProfile) -> MethodOutcome | None:
    """Return the "identifier" outcome for a categorical reference of nearly all distinct values.

    >>> ids = ColumnProfile(column="user_id", kind="categorical", n=10_000, n_missing=0,
    ...     category_counts={str(i): 1 for i in range(9_986)} | {"x": 14})
    >>> print(_identifier_outcome(ids).reason)  # doctest: +NORMALIZE_WHITESPACE
    'user_id' looks like an identifier: 9,987 distinct values in 10,000 reference rows;
    not tested for drift
    """
    if not looks_like_identifier(profile):
        return None
    distinct = len(profile.category_counts or {})
    return _untestable(
        profile,
        "identifier",
        f"{profile.column!r} looks like an identifier: {distinct:,} distinct values in "
        f"{profile.n:,} reference rows; not tested for drift",
    )


def _constant_outcome(profile: ColumnProfile, current: PreparedColumn) -> MethodOutcome | None:
    """Return the "constant" outcome when both sides hold one and the same single value."""
    if profile.kind == "categorical":
        reference_values = set(profile.category_counts or {})
        current_values = set(current.category_counts or {})
        if len(reference_values) != 1 or reference_values != current_values:
            return None
        value = next(iter(reference_values))
    else:
        if profile.min is None or profile.min != profile.max or not current.n_usable:
            return None
        numbers, cells = current.numeric, current.cells
        if cells is not None and not cells.holds_only(profile.min):
            return None
        if numbers is not None and not bool(np.all(numbers == profile.min)):
            return None
        if numbers is None and cells is None:
            return None
        value = format_number(profile.min)
    return _untestable(
        profile,
        "constant",
        f"{profile.column!r} holds one and the same value ({value}) in all {profile.n:,} "
        f"reference and {current.n_usable:,} current values; nothing to test",
    )


def _untestable(profile: ColumnProfile, status: ResultStatus, reason: str) -> MethodOutcome:
    return MethodOutcome(
        statistic=None,
        p_value=None,
        drifted=False,
        status=status,
        reason=reason,
        n_reference=profile.n,
    )


def _common_details(profile: ColumnProfile, current: PreparedColumn) -> dict[str, Any]:
    details: dict[str, Any] = {
        "n_missing_reference": profile.n_missing,
        "n_missing_current": current.n_missing,
        **form_details(current),
    }
    if profile.kind == "numeric":
        details["n_infinite_reference"] = profile.n_infinite
        details["n_infinite_current"] = current.n_infinite
        details["n_unparsable_current"] = current.n_unparsable
    return details
