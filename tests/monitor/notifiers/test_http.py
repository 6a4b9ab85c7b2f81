"""Generic HTTP trigger: any URL and method, headers from env, a sandboxed body template.

The fake stands for an internal service: it requires the method, the header
value from the environment, the content type and an ``Idempotency-Key``,
and drops a repeated key (answering 200 without starting a second run).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from monitor.config import parse_settings
from monitor.notifiers._template import TemplateError, compile_template
from monitor.notifiers.base import Verdict
from monitor.notifiers.http import HttpNotifier, HttpReceiverSettings, render_http
from monitor.settings_base import ConfigError
from tests.monitor.notifiers.fake_api import error, message_for, send
from tests.support import HttpFake, Received, Reply, sample_event

API_KEY = "svc-key-0123"
TEMPLATE = (
    '{"pipeline": "retrain-{{ monitor }}", "run": {{ run.id }}, '
    '"columns": {{ drifted_columns | map(attribute="column") | list | tojson }}, '
    '"key": {{ idempotency_key | tojson }}}'
)


class FakeService:
    def __init__(self) -> None:
        self.started: dict[str, object] = {}

    def __call__(self, request: Received) -> Reply:
        if request.method != "PUT" or request.target != "/pipelines/retrain/runs":
            return error(405, "method not allowed")
        if request.headers.get("x-api-key") != API_KEY:
            return error(401, "unauthorized")
        if request.headers.get("content-type") != "application/json":
            return error(415, "unsupported media type")
        key = request.headers.get("idempotency-key")
        if not key:
            return error(400, "Idempotency-Key is required")
        if key not in self.started:
            self.started[key] = json.loads(request.body)
        return Reply.json(200, {"run": key})


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, service: FakeService) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_SERVICE_KEY", API_KEY)
    with HttpFake(service) as server:
        monkeypatch.setenv("DW_SERVICE_URL", f"{server.url}/pipelines/retrain/runs")
        yield server


def settings(**overrides: object) -> HttpReceiverSettings:
    fields: dict[str, object] = {
        "name": "retrain",
        "type": "http",
        "url_env": "DW_SERVICE_URL",
        "method": "PUT",
        "headers_env": {"x-api-key": "DW_SERVICE_KEY"},
        "body_template": TEMPLATE,
    }
    fields.update(overrides)
    return HttpReceiverSettings.model_validate(fields)


def test_templated_body_is_exact() -> None:
    assert render_http(sample_event(), settings().template) == (
        b'{"pipeline": "retrain-credit-risk", "run": 42, "columns": ["income", "device"], '
        b'"key": "credit-risk-3f2a9c0d1e4b-2"}'
    )


def test_without_a_template_the_body_is_the_trigger_json() -> None:
    body = render_http(sample_event(), None)
    assert json.loads(body)["drifted_columns"] == ["income", "device"]
    assert body.startswith(b'{"monitor":"credit-risk","rule":"drift",')


def test_sent_once_per_episode(api: HttpFake, service: FakeService) -> None:
    notifier = HttpNotifier(settings(), "receivers[0]")
    first = send(notifier, sample_event())
    again = send(notifier, sample_event())
    assert first.status_code == again.status_code == 200
    assert notifier.classify(first) is Verdict.DELIVERED
    assert [r.headers["idempotency-key"] for r in api.requests] == [
        "credit-risk-3f2a9c0d1e4b-2"
    ] * 2
    assert service.started == {
        "credit-risk-3f2a9c0d1e4b-2": {
            "pipeline": "retrain-credit-risk",
            "run": 42,
            "columns": ["income", "device"],
            "key": "credit-risk-3f2a9c0d1e4b-2",
        }
    }


def test_resolved_event_sends_nothing(api: HttpFake) -> None:
    notifier = HttpNotifier(settings(), "receivers[0]")
    assert notifier.build_request(message_for(sample_event("resolved"))) is None
    assert api.requests == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ monitor ", "template syntax error on line 1"),
        ("{% for x in run %}", "template syntax error on line 1"),
        ("{{ monitr }}", "'monitr' is undefined"),
        ("{{ run.__class__.__mro__ }}", "template: "),
        ("{{ alert.labels.clear() }}", "template: "),
        ("{{ 1 / 0 }}", "fails: ZeroDivisionError: division by zero"),
        ("{% for i in range(10**9) %}x{% endfor %}", "fails: OverflowError: Range too big"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "fails: RecursionError"),
        ("{{ 2 ** 64 ** 64 ** 64 ** 64 ** 64 }}", "a power above 64 or of more than 4096 bits"),
        ('{{ "x" * 10**9 }}', "a repetition longer than 100000 is not allowed"),
        ("{{ [run] * 100001 }}", "a repetition longer than 100000 is not allowed"),
    ],
)
def test_bad_templates_are_refused(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        compile_template(source)


def test_small_powers_and_repetitions_still_render() -> None:
    assert compile_template('{{ 2 ** 10 }} {{ "ab" * 3 }} {{ 3 * 4 }}').render() == "1024 ababab 12"


def test_template_error_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(
            {
                "receivers": [
                    {"name": "ok", "type": "webhook", "url": "https://example.com/h"},
                    {
                        "name": "retrain",
                        "type": "http",
                        "url": "https://example.com/run",
                        "body_template": '{"m": "{{ monitor }"}',
                    },
                ]
            }
        )
    assert "receivers[1].body_template: template syntax error on line 1" in str(raised.value)


def test_settings_need_exactly_one_url() -> None:
    with pytest.raises(ValidationError, match="exactly one of url and url_env"):
        settings(url="https://example.com")
