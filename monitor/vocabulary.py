"""The states the service stores, as types shared by the store and the code that sets them.

Kept in a module that imports nothing of the service, so that the store's
models and the alert state machines can both name them without importing
each other.
"""

from __future__ import annotations

from typing import Literal

RunStatus = Literal["running", "succeeded", "failed", "empty"]
"""A run's status: claimed, then one of the three outcomes."""

AlertState = Literal["inactive", "pending", "firing", "resolved"]
"""Where one alert rule stands (``monitor.alerts.state``)."""

GroupStatus = Literal["inactive", "firing", "resolved"]
"""What one receiver was last told about one monitor (``monitor.alerts.grouping``)."""

OutboxStatus = Literal["pending", "sending", "delivered", "dead", "superseded"]
"""Where one outbox message stands (``monitor.delivery``); "superseded": a newer message
of its group made it redundant before it was sent (``monitor.store.outbox``)."""

ResultCheck = Literal["drift", "sequential", "performance"]
"""Which check a stored result comes from: one window's drift test (a column
or the multivariate test), a pooled-window test (``monitor.sequential``) or
a performance metric. Not a column's kind, which is numeric or categorical."""
