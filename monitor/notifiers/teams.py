"""Microsoft Teams through a Workflows (Power Automate) webhook: one Adaptive Card.

The "Post to a channel when a webhook request is received" workflow expects a
message activity whose attachment has ``contentType``
``application/vnd.microsoft.card.adaptive`` and an AdaptiveCard as
``content`` (Workflows accept Adaptive Cards only, not the old MessageCard).
The trigger URL carries its signature (``sig=``), so it is a secret read from
the environment. Workflows answer 202 Accepted; the card is posted after
that, so a 2xx means "accepted by the workflow", not "shown in the channel".
"""

from __future__ import annotations

from typing import Any, Literal

from monitor.alerts.event import AlertEvent, DriftedColumn
from monitor.notifiers._chat import ChatNotifier, ChatReceiverSettings
from monitor.notifiers._http import utc_span
from monitor.notifiers.spec import NotifierSpec

MAX_COLUMNS = 10
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"


class TeamsReceiverSettings(ChatReceiverSettings):
    type: Literal["teams"]  # url_env: the workflow trigger URL, whose sig= is the secret


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _column_fact(column: DriftedColumn) -> dict[str, str]:
    value = (
        f"{column.method}: statistic {_number(column.statistic, '.4g')}, "
        f"p-value {_number(column.p_value, '.3g')}"
    )
    return {"title": column.shown_name, "value": value}


def render_teams(event: AlertEvent) -> dict[str, Any]:
    """The exact webhook body for ``event``: a message with one Adaptive Card attachment."""
    firing = event.status == "firing"
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"{event.status.upper()} · {event.severity} · {event.monitor}",
            "size": "Large",
            "weight": "Bolder",
            "color": "Attention" if firing else "Good",
            "wrap": True,
        },
        {"type": "TextBlock", "text": event.summary, "wrap": True},
        {
            "type": "FactSet",
            "facts": [
                {"title": "Monitor", "value": event.monitor},
                {"title": "Severity", "value": event.severity},
                {"title": "Rule", "value": event.rule},
                {
                    "title": "Window",
                    "value": utc_span(event.window_start, event.window_end),
                },
            ],
        },
    ]
    if event.drifted_columns:
        shown = event.drifted_columns[:MAX_COLUMNS]
        facts = [_column_fact(column) for column in shown]
        hidden = len(event.drifted_columns) - len(shown)
        if hidden:
            facts.append({"title": f"+{hidden} more", "value": "see the run"})
        body.append(
            {"type": "TextBlock", "text": "Drifted columns", "weight": "Bolder", "wrap": True}
        )
        body.append({"type": "FactSet", "facts": facts})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": f"Open run {event.run_id}", "url": event.run_url}
        ],
    }
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "content": card}]}


class TeamsNotifier(ChatNotifier[TeamsReceiverSettings]):
    render = staticmethod(render_teams)


SPEC = NotifierSpec(
    type="teams",
    settings=TeamsReceiverSettings,
    factory=TeamsNotifier,
)
