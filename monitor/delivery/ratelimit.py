"""Per-receiver rate limits: a token bucket for each receiver name, in this process.

A message that finds its receiver's bucket empty is *deferred*, not attempted:
its claim is released with ``next_attempt_at`` set to when a token will be
there, no attempt is recorded and ``attempts`` does not move. Deferral never
kills a message and never extends its ``max_age``: the deadline stays
``created_at + max_age`` (or the replay time + max_age), and is only checked
when a real attempt fails.

The buckets live in the worker's process. Two daemons (or two workers with
two limiters) sending to one Slack webhook may together send twice the rate;
the receiver's 429 and ``Retry-After`` are the backstop for that case.

Each receiver kind declares its documented default in its
``NotifierSpec.default_rate_limit`` (``monitor.notifiers.registry``), with
the source next to it: Slack 1 message per second per incoming webhook,
PagerDuty's Events API v2 120 per minute per integration key, so 2 per
second. Other kinds have no limit unless configured. A receiver settings model that
subclasses ``monitor.settings_base.RateLimitedSettings`` takes a ``rate_limit``
key (messages per second) that overrides its kind's default.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Protocol

from monitor.notifiers.registry import SPECS
from monitor.settings_base import RateLimitedSettings

DEFAULT_RATE_LIMITS: Mapping[str, float] = MappingProxyType(
    {spec.type: spec.default_rate_limit for spec in SPECS if spec.default_rate_limit is not None}
)
"""Receiver type -> its documented messages per second, from the registry."""


class Receiver(Protocol):
    """What the limiter reads of any receiver's settings."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...


def receiver_rate_limits(receivers: Iterable[Receiver]) -> dict[str, float]:
    """Receiver name -> messages per second; receivers without a limit are left out.

    >>> from typing import Literal
    >>> class Slack(RateLimitedSettings):
    ...     name: str
    ...     type: Literal["slack"] = "slack"
    >>> class PagerDuty(RateLimitedSettings):
    ...     name: str
    ...     type: Literal["pagerduty"] = "pagerduty"
    >>> class Plain:  # settings without a rate_limit key: the kind's default or nothing
    ...     def __init__(self, name, type):
    ...         self.name, self.type = name, type
    >>> receiver_rate_limits([Slack(name="ops"), PagerDuty(name="pd"),
    ...                       Slack(name="fast", rate_limit=5), Plain("ci", "webhook"),
    ...                       Plain("chat", "slack")])
    {'ops': 1.0, 'pd': 2.0, 'fast': 5.0, 'chat': 1.0}
    """
    limits: dict[str, float] = {}
    for receiver in receivers:
        rate = receiver.rate_limit if isinstance(receiver, RateLimitedSettings) else None
        if rate is None:
            rate = DEFAULT_RATE_LIMITS.get(receiver.type)
        if rate is not None:
            limits[receiver.name] = rate
    return limits


def _rate_iv(rate: float) -> float:
    if not rate > 0:
        raise ValueError(
            f"a rate limit must be a positive number of messages per second, got {rate}"
        )
    return float(rate)


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` (at least one) saved up for a burst.

    >>> now = [0.0]
    >>> bucket = TokenBucket(rate=2.0, capacity=2.0, clock=lambda: now[0])
    >>> [bucket.take() for _ in range(3)]
    [0.0, 0.0, 0.5]
    >>> now[0] = 0.5
    >>> bucket.take(), bucket.take()
    (0.0, 0.5)
    """

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = _rate_iv(rate)
        self.capacity = max(1.0, capacity if capacity is not None else self.rate)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    def take(self) -> float:
        """Take a token and return 0.0; or, with none left, the seconds until there is one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def empty(self) -> bool:
        self._refill()
        return self._tokens < 1.0


class RateLimiter:
    """One bucket per limited receiver name; thread-safe, so workers of one process may share it."""

    def __init__(
        self, limits: Mapping[str, float], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets = {name: TokenBucket(rate, clock=clock) for name, rate in limits.items()}
        self._lock = threading.Lock()

    @property
    def limits(self) -> dict[str, float]:
        return {name: bucket.rate for name, bucket in self._buckets.items()}

    def take(self, receiver: str) -> float:
        """0.0 when ``receiver`` may be sent to now (a token is used), else seconds to wait."""
        bucket = self._buckets.get(receiver)
        if bucket is None:
            return 0.0
        with self._lock:
            return bucket.take()

    def throttled(self) -> list[str]:
        """Receivers with no token now: not worth claiming messages for."""
        with self._lock:
            return sorted(name for name, bucket in self._buckets.items() if bucket.empty())
