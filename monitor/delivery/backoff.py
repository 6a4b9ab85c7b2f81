"""When to try a failed message again: capped exponential backoff with full jitter.

Full jitter (a uniform draw below the exponential cap) spreads the retries of
many messages that failed together, so a receiver that comes back is not hit
by all of them at once. A receiver's ``Retry-After`` is a floor: we never
come back earlier than it asked, even when that is beyond ``backoff_max``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# 2**60 seconds is far beyond any backoff_max; the exponent is clamped so the
# arithmetic never overflows however many attempts a message has had.
_MAX_EXPONENT = 60


def backoff_delay(
    failures: int, initial: timedelta, maximum: timedelta, rng: random.Random
) -> timedelta:
    """A delay drawn uniformly from [0, min(maximum, initial * 2 ** (failures - 1))].

    >>> rng = random.Random(7)
    >>> [round(backoff_delay(n, timedelta(seconds=1), timedelta(seconds=5), rng)
    ...        .total_seconds(), 3) for n in (1, 2, 3, 10)]
    [0.324, 0.302, 2.604, 0.362]
    """
    if failures < 1:
        raise ValueError(f"failures must be at least 1, got {failures}")
    exponent = min(failures - 1, _MAX_EXPONENT)
    cap = min(maximum.total_seconds(), initial.total_seconds() * 2**exponent)
    return timedelta(seconds=rng.uniform(0.0, cap))


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as a delay from ``now`` (delta-seconds or HTTP-date); None if absent or bad.

    >>> now = datetime(2024, 1, 1, tzinfo=UTC)
    >>> parse_retry_after("120", now), parse_retry_after("Mon, 01 Jan 2024 00:01:00 GMT", now)
    (datetime.timedelta(seconds=120), datetime.timedelta(seconds=60))
    >>> parse_retry_after("soon", now) is None
    True
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse as naive; HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def retry_delay(
    failures: int,
    initial: timedelta,
    maximum: timedelta,
    rng: random.Random,
    retry_after: timedelta | None = None,
) -> timedelta:
    """The jittered backoff, but never shorter than the receiver's ``Retry-After``."""
    delay = backoff_delay(failures, initial, maximum, rng)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
