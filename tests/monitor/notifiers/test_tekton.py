"""Tekton trigger: the drift payload POSTed to an EventListener, against a fake listener.

The fake does what an EventListener with Tekton's ``github`` interceptor
does (``pkg/interceptors/github/github.go``): it answers every POST with 202
Accepted and the event id, then lets the trigger through only if the body is
not a form, ``X-GitHub-Event`` is one of ``eventTypes`` (when set), and,
with a ``secretRef``, ``X-Hub-Signature-256`` (or ``X-Hub-Signature``) is
the body's HMAC under the secret. ``fired`` lists the bodies let through.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from monitor.alerts.event import AlertEvent
from monitor.notifiers.base import Verdict
from monitor.notifiers.tekton import TektonNotifier, TektonReceiverSettings, render_tekton
from monitor.secrets import SecretError
from tests.monitor.notifiers.fake_api import message_for, send
from tests.support import HttpFake, Received, Reply, sample_event

SECRET = "tekton-webhook-secret-0123"


@dataclass
class EventListener:
    secret: str | None = None
    event_types: tuple[str, ...] | None = None
    fired: list[object] = field(default_factory=list)

    def _passes_github_interceptor(self, request: Received) -> bool:
        if request.headers.get("content-type", "") == "application/x-www-form-urlencoded":
            return False
        event = request.headers.get("x-github-event")
        if self.event_types is not None and event not in self.event_types:
            return False
        if self.secret is not None:
            header = request.headers.get("x-hub-signature-256") or request.headers.get(
                "x-hub-signature", ""
            )
            algorithm, _, signature = header.partition("=")
            if algorithm != "sha256":  # sha1 is still accepted by Tekton; we only send sha256
                return False
            expected = hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(signature, expected):
                return False
        return True

    def __call__(self, request: Received) -> Reply:
        if request.target != "/":
            return Reply.json(404, {"message": "Not Found"})
        if self._passes_github_interceptor(request):
            self.fired.append(json.loads(request.body))
        return Reply.json(
            202,
            {"eventListener": "retrain", "namespace": "ci", "eventID": "6a3e5f0c"},
        )


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HttpFake, EventListener]]:
    monkeypatch.setenv("DW_TEKTON_SECRET", SECRET)
    handler = EventListener(secret=SECRET, event_types=("push",))
    with HttpFake(handler) as server:
        yield server, handler


def settings(
    url: str = "http://el-retrain.ci:8080", /, **overrides: object
) -> TektonReceiverSettings:
    fields: dict[str, object] = {
        "name": "retrain",
        "type": "tekton",
        "url": url,
        "secret_env": "DW_TEKTON_SECRET",
        "github_event": "push",
    }
    fields.update(overrides)
    return TektonReceiverSettings.model_validate(fields)


def test_body_is_exact() -> None:
    assert render_tekton(sample_event()) == (
        b'{"monitor":"credit-risk","rule":"drift","severity":"critical",'
        b'"summary":"credit-risk: 2 of 7 columns drifted (income, device)",'
        b'"run":{"id":42,"url":"http://127.0.0.1:8470/api/runs/42"},'
        b'"window":{"start":"2026-11-25T11:00:00+00:00","end":"2026-11-25T12:00:00+00:00"},'
        b'"drifted_columns":["income","device"],"idempotency_key":"credit-risk-3f2a9c0d1e4b-2"}'
    )


def test_signed_event_passes_the_github_interceptor(
    listener: tuple[HttpFake, EventListener],
) -> None:
    server, handler = listener
    notifier = TektonNotifier(settings(f"{server.url}/"), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 202
    assert notifier.classify(response) is Verdict.DELIVERED
    (received,) = server.requests
    expected = hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers["x-hub-signature-256"] == f"sha256={expected}"
    assert received.headers["x-github-event"] == "push"
    assert received.headers["content-type"] == "application/json"
    assert SECRET.encode() not in received.body
    assert handler.fired == [json.loads(render_tekton(sample_event()))]


def test_the_fake_drops_what_the_interceptor_drops(
    listener: tuple[HttpFake, EventListener],
) -> None:
    """Tekton answers 202 before interceptors run: a bad signature fires nothing."""
    server, handler = listener
    body = render_tekton(sample_event())
    headers = {"content-type": "application/json", "x-github-event": "push"}
    with httpx.Client() as client:
        unsigned = client.post(f"{server.url}/", content=body, headers=headers)
        wrong = {**headers, "x-hub-signature-256": "sha256=" + "0" * 64}
        tampered = client.post(f"{server.url}/", content=body, headers=wrong)
    assert unsigned.status_code == tampered.status_code == 202
    assert handler.fired == []


def test_without_a_secret_nothing_is_signed() -> None:
    handler = EventListener()
    with HttpFake(handler) as server:
        notifier = TektonNotifier(
            settings(f"{server.url}/", secret_env=None, github_event=None), "receivers[0]"
        )
        assert send(notifier, sample_event()).status_code == 202
        (received,) = server.requests
    assert "x-hub-signature-256" not in received.headers
    assert "x-github-event" not in received.headers
    assert len(handler.fired) == 1


@pytest.mark.parametrize("event", [sample_event("resolved"), sample_event(occasion="repeat")])
def test_resolved_or_repeated_event_sends_nothing(
    listener: tuple[HttpFake, EventListener], event: AlertEvent
) -> None:
    server, _ = listener
    notifier = TektonNotifier(settings(f"{server.url}/"), "receivers[0]")
    assert notifier.build_request(message_for(event)) is None
    assert server.requests == []


def test_missing_secret_names_the_key_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DW_TEKTON_SECRET", raising=False)
    monkeypatch.delenv("DW_TEKTON_SECRET_FILE", raising=False)
    notifier = TektonNotifier(settings(), "receivers[4]")
    with pytest.raises(SecretError, match=r"receivers\[4\]\.secret_env: .*DW_TEKTON_SECRET"):
        notifier.build_request(message_for(sample_event()))
