"""A reference that follows the data: the ``span`` of the monitor's own source before each run.

Time is cut into refit periods of length ``refit`` on a grid anchored at
1970-01-01T00:00Z (so ``"1d"`` periods start at midnight UTC). A run whose
window starts at E belongs to the period [B, B + refit) that holds E, and
its reference is [B - skip - span, B - skip): every run of one period
shares one reference, so its profile is fitted once per period, not once
per run. Its rows end at B - skip, at or before the start of every window
it is compared with, so a window is never part of its own reference, and a
run's reference is a function of its slot alone (a backtest, a retry and
another replica state the same one).

The profile of the next period can be fitted as soon as its last row has
arrived, at B + refit - skip, which is before any run needs it (the first
window of the next period starts at B + refit): ``next_refit_start`` tells
the runner when, so that runs rarely wait for a fit (see
``monitor.refits``).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import pandas as pd
from pydantic import field_validator, model_validator

from monitor.durations import format_duration
from monitor.references.spec import (
    ReferenceOrigin,
    ReferenceRequest,
    ReferenceSettingsModel,
    ReferenceSpec,
    Refits,
    non_empty,
)
from monitor.settings_base import as_duration
from monitor.sources.base import Source, Window

GRID_ORIGIN: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""Where the grid of refit periods starts: ``"1d"`` periods begin at midnight UTC."""

LONGEST_DEFAULT_REFIT: Final = timedelta(days=1)
"""Without ``refit``, a reference is refitted every quarter of its span, at least daily."""

KEPT_PROFILES: Final = 3
"""Stored profiles a trailing monitor keeps: the one in use, the one fitted ahead, and the
one before (for a retried or late slot of the previous period)."""

_ZERO = re.compile(r"^\s*0+(?:\.0*)?\s*(?:ms|s|m|h|d)?\s*$")


def _gap(value: Any) -> timedelta:
    """``skip``: a duration as ``as_duration`` takes it, or zero (no gap).

    >>> _gap("0"), _gap("2h")
    (datetime.timedelta(0), datetime.timedelta(seconds=7200))
    >>> _gap("-1d")
    Traceback (most recent call last):
    ...
    ValueError: expected 0 or a positive duration such as "1d", got '-1d'
    """
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if (isinstance(value, timedelta) and value == timedelta(0)) or (number and value == 0):
        return timedelta(0)
    if isinstance(value, str) and _ZERO.match(value):
        return timedelta(0)
    negative = (isinstance(value, timedelta) and value < timedelta(0)) or (number and value < 0)
    if negative or (isinstance(value, str) and value.strip().startswith("-")):
        raise ValueError(f'expected 0 or a positive duration such as "1d", got {value!r}')
    return as_duration(value)


class TrailingReferenceSettings(ReferenceSettingsModel):
    """The ``span`` before each run's refit period, less the most recent ``skip``."""

    type: Literal["trailing"]
    span: timedelta
    skip: timedelta = timedelta(0)
    refit: timedelta | None = None
    """Filled in when not set: a quarter of ``span``, at most ``LONGEST_DEFAULT_REFIT``."""

    _check_span = field_validator("span", mode="before")(as_duration)
    _check_skip = field_validator("skip", mode="before")(_gap)
    _check_refit = field_validator("refit", mode="before")(as_duration)

    @model_validator(mode="after")
    def _default_refit(self) -> TrailingReferenceSettings:
        if self.refit is None:
            # Stored, so that a refit left out and the same one written out key alike.
            object.__setattr__(self, "refit", min(self.span / 4, LONGEST_DEFAULT_REFIT))
        return self

    def refit_every(self) -> timedelta:
        assert self.refit is not None, "filled in by the validator"
        return self.refit


def _settings(request: ReferenceRequest) -> TrailingReferenceSettings:
    assert isinstance(request.reference, TrailingReferenceSettings)
    return request.reference


def refit_period_start(refit: timedelta, moment: datetime) -> datetime:
    """The start of the refit period that holds ``moment`` (exact: integer microseconds).

    >>> day = timedelta(days=1)
    >>> refit_period_start(day, datetime(2026, 3, 1, 23, 59, tzinfo=UTC)).isoformat()
    '2026-03-01T00:00:00+00:00'
    >>> refit_period_start(day, datetime(2026, 3, 2, tzinfo=UTC)).isoformat()
    '2026-03-02T00:00:00+00:00'
    """
    return GRID_ORIGIN + ((moment - GRID_ORIGIN) // refit) * refit


def reference_period(settings: TrailingReferenceSettings, window_start: datetime) -> Window:
    """The reference of a run whose window starts at ``window_start``.

    >>> settings = TrailingReferenceSettings(type="trailing", span="28d", skip="1d")
    >>> period = reference_period(settings, datetime(2026, 3, 10, 7, 0, tzinfo=UTC))
    >>> period.start.isoformat(), period.end.isoformat()
    ('2026-02-09T00:00:00+00:00', '2026-03-09T00:00:00+00:00')
    """
    end = refit_period_start(settings.refit_every(), window_start) - settings.skip
    return Window(end - settings.span, end)


def _period(request: ReferenceRequest) -> Window:
    if request.window_start is None:
        raise ValueError(
            f"reference for monitor {request.monitor}: a trailing reference is read before a "
            "run's window, and none was given"
        )
    return reference_period(_settings(request), request.window_start)


def load_trailing_reference(request: ReferenceRequest, source: Source, seed: int) -> pd.DataFrame:
    period = _period(request)
    frame = source.sample(period, request.reference_limit, seed)
    why_empty = (
        f"its source has no rows in [{period.start.isoformat()}, {period.end.isoformat()}) "
        f"(the trailing {format_duration(_settings(request).span)})"
    )
    return non_empty(request, frame, why_empty)


def trailing_key_parts(request: ReferenceRequest) -> list[str]:
    """The source settings and the period: each refit period has a profile of its own."""
    period = _period(request)
    return [request.source.model_dump_json(), period.start.isoformat(), period.end.isoformat()]


def describe_trailing_reference(request: ReferenceRequest) -> ReferenceOrigin:
    settings = _settings(request)
    period = _period(request)
    skipping = f", skipping the last {format_duration(settings.skip)}" if settings.skip else ""
    return ReferenceOrigin(
        f"the monitor's source over the trailing {format_duration(settings.span)}{skipping}, "
        f"refitted every {format_duration(settings.refit_every())}",
        period.start,
        period.end,
    )


def next_refit_start(request: ReferenceRequest, now: datetime) -> datetime | None:
    """The start of the next refit period once its reference is complete at ``now``, else None.

    >>> from monitor.sources.demo import DemoSourceSettings
    >>> settings = TrailingReferenceSettings(type="trailing", span="28d", skip="1h")
    >>> window_start = datetime(2026, 3, 1, 22, tzinfo=UTC)
    >>> request = ReferenceRequest("m", settings, DemoSourceSettings(type="demo"), 1, window_start)
    >>> next_refit_start(request, datetime(2026, 3, 1, 22, 59, tzinfo=UTC)) is None
    True
    >>> next_refit_start(request, datetime(2026, 3, 1, 23, tzinfo=UTC)).isoformat()
    '2026-03-02T00:00:00+00:00'
    """
    settings = _settings(request)
    assert request.window_start is not None
    following = refit_period_start(settings.refit_every(), request.window_start) + (
        settings.refit_every()
    )
    return following if now >= following - settings.skip else None


def windows_per_profile(
    settings: ReferenceSettingsModel, window: timedelta, schedule_period: timedelta
) -> int:
    """At most how many stored windows (which never overlap) share one profile.

    A window is stored when it starts at or after the end of the last one
    stored, so stored windows start a whole number of schedule periods,
    at least one window long, apart.

    >>> settings = TrailingReferenceSettings(type="trailing", span="28d")
    >>> windows_per_profile(settings, timedelta(hours=1), timedelta(minutes=5))
    24
    >>> windows_per_profile(settings, timedelta(hours=1), timedelta(hours=1))
    24
    >>> windows_per_profile(settings, timedelta(days=1), timedelta(days=1))
    1
    """
    assert isinstance(settings, TrailingReferenceSettings)
    stride = math.ceil(window / schedule_period) * schedule_period
    return max(1, math.ceil(settings.refit_every() / stride))


SPEC = ReferenceSpec(
    type="trailing",
    settings=TrailingReferenceSettings,
    load=load_trailing_reference,
    key_parts=trailing_key_parts,
    describe=describe_trailing_reference,
    refits=Refits(next_start=next_refit_start, windows=windows_per_profile, keep=KEPT_PROFILES),
)
