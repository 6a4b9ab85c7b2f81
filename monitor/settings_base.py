"""What every settings model shares: unknown keys refused, values frozen, durations parsed.

Kept apart from ``monitor.config`` so that plug-in modules (notifiers,
sources) can define their own settings without importing the whole config.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from monitor.durations import parse_duration


class SettingsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimitedSettings(SettingsModel):
    """Receiver settings with a ``rate_limit`` key the delivery worker paces by.

    A receiver settings model subclasses this to let users set its limit; see
    ``monitor.delivery.ratelimit`` for the per-kind defaults and semantics.
    """

    rate_limit: float | None = Field(
        default=None,
        gt=0,
        description="messages per second to this receiver, per daemon process "
        "(default: the kind's documented limit, or none)",
    )


def as_duration(value: Any) -> timedelta:
    """A pydantic "before" validator: "30s", "5m", "2h", "1d" or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f'expected a duration such as "30s" or "5m", got {value!r}')
