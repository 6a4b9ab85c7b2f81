"""How the report pages write numbers, times and a run's outcome: short, and never misleading.

>>> number(0.000012345), number(0.5), number(48213.7), number(None)
('1.23e-05', '0.5', '4.82e+04', '–')
>>> axis_number(48213.7), axis_number(2_500_000.0), axis_number(-0.25)
('48.2k', '2.5M', '-0.25')
>>> percent(0.4567), percent(0.0004), count(1234567)
('45.7%', '0.04%', '1,234,567')
>>> [verdict(s, d) for s, d in [("succeeded", True), ("succeeded", False), ("empty", False)]]
['drifted', 'ok', 'empty']
>>> verdict("failed", None), verdict("running", None)
('failed', 'running')
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

MISSING = "–"
"""What a cell shows for no value (a distance's p-value, an untested column's statistic)."""


def number(value: float | None) -> str:
    """Three significant digits; small p-values keep theirs in exponent form, never 0."""
    return MISSING if value is None else f"{value:.3g}"


def axis_number(value: float) -> str:
    """An axis label: thousands as k, millions as M, so that bin edges fit under their bars."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


def percent(share: float) -> str:
    return f"{share * 100:.3g}%"


def share(value: float | None) -> str:
    """A share as a whole percentage (label coverage), or the missing mark.

    >>> share(0.9287), share(None)
    ('93%', '–')
    """
    return MISSING if value is None else f"{value:.0%}"


def count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def when(moment: datetime | None) -> str:
    return MISSING if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def span(start: datetime, end: datetime) -> str:
    """A window, its date written once when it starts and ends on the same day (UTC).

    >>> span(datetime(2026, 11, 25, 11, 0, tzinfo=UTC), datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    '2026-11-25 11:00:00 – 12:00:00 UTC'
    """
    first, last = when(start), when(end)
    if first[:10] == last[:10]:
        return f"{first.removesuffix(' UTC')} – {last[11:]}"
    return f"{first} – {last}"


def path_segment(value: object) -> str:
    """``value`` quoted as one URL path segment (a monitor name with a ``/`` stays one)."""
    return quote(str(value), safe="")


def verdict(status: str, drifted: bool | None) -> str:
    """The one word a page shows for a run: only a run that succeeded can be "ok"."""
    if status == "succeeded":
        return "drifted" if drifted else "ok"
    return status


def result_verdict(status: str, drifted: bool) -> str:
    """The word for one column's result: "drifted", "ok" or why it was not tested."""
    if status == "ok":
        return "drifted" if drifted else "ok"
    return status.replace("_", " ")
