"""The webhook payload's JSON Schema (monitor/schemas/webhook.schema.json) against our messages.

The schema is what users code against, so it is checked with an independent
validator (jsonschema) against the exact bodies the webhook notifier renders;
the real firing and resolved messages of a running daemon are checked in
tests/monitor/test_operator_acceptance.py.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from monitor.alerts.event import AlertEvent, DriftedColumn, RuleAlert
from monitor.notifiers.base import OutboundMessage
from monitor.notifiers.webhook import render_payload
from tests.support import sample_event

SCHEMA: dict[str, Any] = json.loads(
    files("monitor").joinpath("schemas/webhook.schema.json").read_text(encoding="utf-8")
)
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
CREATED_AT = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)


def problems(document: Any) -> list[str]:
    """Every way ``document`` breaks the schema, as "path: message" lines."""
    return [
        f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in VALIDATOR.iter_errors(document)
    ]


def assert_valid_webhook(body: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(body)
    assert problems(document) == []
    return document


def body(event: AlertEvent) -> bytes:
    return render_payload(
        OutboundMessage("msg_1", event.event_type, event.to_payload(), CREATED_AT, 1)
    )


def resolved_event() -> AlertEvent:
    firing = sample_event()
    ended = firing.started_at + timedelta(hours=1)
    return replace(
        firing,
        status="resolved",
        occasion="resolved",
        ended_at=ended,
        expires_at=None,
        alerts=tuple(replace(a, state="resolved", ended_at=ended) for a in firing.alerts),
    )


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


def test_firing_and_resolved_messages_are_valid_and_have_the_same_shape() -> None:
    firing = assert_valid_webhook(body(sample_event()))
    resolved = assert_valid_webhook(body(resolved_event()))
    assert (firing["type"], resolved["type"]) == ("alert.firing", "alert.resolved")

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items() if key != "labels"}
        if isinstance(value, list):
            return [shape(item) for item in value[:1]]
        return None

    assert shape(firing) == shape(resolved)


def test_every_kind_of_value_a_message_can_hold_is_valid() -> None:
    event = replace(
        sample_event(),
        drifted_columns=(
            DriftedColumn("income", "ks@16", 0.2, 1e-9, 4e-9, 0.001),
            DriftedColumn("device", "psi", 0.31, None, None, 0.1, segment="country=DE"),
        ),
        segmented=True,
        alerts=(
            RuleAlert(
                "drift", "dataset_drift", "critical", "firing", CREATED_AT, None, {"team": "risk"}
            ),
            RuleAlert("stale", "no_data", "info", "resolved", CREATED_AT, CREATED_AT, {}),
        ),
        labels={"team": "risk"},
        rules=("drift",),
        occasion="changed",
        expires_at=None,
    )
    assert_valid_webhook(body(event))


def _broken(change: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(body(sample_event()))
    broken = copy.deepcopy(document)
    data = broken["data"]
    if change == "state":
        data["alert"]["state"] = "resolved"
    elif change == "run":
        del data["run"]
    elif change == "unknown":
        data["drifted_columns"][0]["colour"] = "red"
    elif change == "time":
        data["window"]["start"] = "yesterday"
    elif change == "severity":
        data["alert"]["severity"] = "page"
    return broken


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("state", "data/alert/state: 'firing' was expected"),
        ("run", "data: 'run' is a required property"),
        ("unknown", "data/drifted_columns/0: Additional properties are not allowed"),
        ("time", "data/window/start: 'yesterday' does not match"),
        ("severity", "data/alert/severity: 'page' is not one of"),
    ],
)
def test_the_schema_refuses_what_we_never_send(change: str, expected: str) -> None:
    found = problems(_broken(change))
    assert any(problem.startswith(expected) for problem in found), found
