"""Slack incoming webhook: a Block Kit message with a plain ``text`` fallback.

Follows Slack's "Sending messages using incoming webhooks" and the Block Kit
reference (header text <= 150 chars, section text <= 3000, fields <= 10 of
<= 2000 each, button text <= 75, url <= 3000). The webhook URL is the
credential, so only the name of the environment variable holding it is
configured. Slack answers 200 ``ok``; 400 ``invalid_payload``/``no_text``,
403, 404 and 410 are permanent; 429 (with ``Retry-After``) and 5xx retry.
"""

from __future__ import annotations

from typing import Any, Literal

from monitor.alerts.event import AlertEvent, DriftedColumn
from monitor.notifiers._chat import ChatNotifier, ChatReceiverSettings
from monitor.notifiers._http import utc_span
from monitor.notifiers.spec import NotifierSpec

MAX_COLUMNS = 10  # drifted columns listed before "+N more": keeps a section under 3000 chars
HEADER_LIMIT = 150


class SlackReceiverSettings(ChatReceiverSettings):
    type: Literal["slack"]


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _escape(text: str) -> str:
    """Slack mrkdwn control characters, escaped as Slack documents."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _column_line(column: DriftedColumn) -> str:
    return (
        f"• `{_escape(column.shown_name)}` {_escape(column.method)}: "
        f"statistic {_number(column.statistic, '.4g')}, p-value {_number(column.p_value, '.3g')}"
    )


def render_slack(event: AlertEvent) -> dict[str, Any]:
    """The exact webhook body for ``event``: Block Kit ``blocks`` and a plain ``text`` fallback."""
    state = event.status.upper()
    title = _clip(f"{state} · {event.severity} · {event.monitor}", HEADER_LIMIT)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(_escape(event.summary), 3000)},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Monitor*\n{_escape(event.monitor)}"},
                {"type": "mrkdwn", "text": f"*Severity*\n{event.severity}"},
                {"type": "mrkdwn", "text": f"*Rule*\n{_escape(event.rule)}"},
                {
                    "type": "mrkdwn",
                    "text": "*Window*\n" + utc_span(event.window_start, event.window_end),
                },
            ],
        },
    ]
    if event.drifted_columns:
        shown = event.drifted_columns[:MAX_COLUMNS]
        lines = [_column_line(column) for column in shown]
        hidden = len(event.drifted_columns) - len(shown)
        if hidden:
            lines.append(f"+{hidden} more")
        text = "*Drifted columns*\n" + "\n".join(lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, 3000)}})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": f"Open run {event.run_id}"},
                    "url": event.run_url,
                }
            ],
        }
    )
    return {"text": f"[{state}] {event.severity}: {_escape(event.summary)}", "blocks": blocks}


class SlackNotifier(ChatNotifier[SlackReceiverSettings]):
    render = staticmethod(render_slack)


SPEC = NotifierSpec(
    type="slack",
    settings=SlackReceiverSettings,
    factory=SlackNotifier,
    # Slack: 1 message per second per incoming webhook, short bursts allowed
    # ("Message Posting", https://api.slack.com/docs/rate-limits).
    default_rate_limit=1.0,
)
