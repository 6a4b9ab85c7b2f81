"""GitLab trigger: a pipeline run by a pipeline trigger token, with variables.

The fake enforces GitLab's trigger endpoint: ``POST /api/v4/projects/<id or
URL-encoded path>/trigger/pipeline``, form fields ``token`` (404 when wrong,
as GitLab answers), ``ref`` (400 when missing), ``variables[KEY]`` with keys of
``A-Z a-z 0-9 _`` only; it answers 201 with the pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from monitor.notifiers.base import Verdict
from monitor.notifiers.gitlab import GitLabNotifier, GitLabReceiverSettings, render_gitlab
from tests.monitor.notifiers.fake_api import error, form_body, message_for, send
from tests.support import HttpFake, Received, Reply, sample_event

TOKEN = "glptt-0123456789abcdef"
VARIABLE = re.compile(r"^variables\[([A-Za-z0-9_]+)\]$")


class FakeGitLab:
    def __init__(self) -> None:
        self.pipelines: list[dict[str, str]] = []

    def __call__(self, request: Received) -> Reply:
        if request.target != "/api/v4/projects/acme%2Fmodels/trigger/pipeline":
            return error(404, "404 Project Not Found")
        fields = form_body(request)
        if fields is None:
            return error(400, "token is missing")
        values = dict(fields)
        if values.get("token") != TOKEN:
            return error(404, "404 Not Found")
        if not values.get("ref"):
            return error(400, "ref is missing")
        variables: dict[str, str] = {}
        for name, value in fields:
            if name in ("token", "ref"):
                continue
            match = VARIABLE.match(name)
            if match is None:
                return error(400, f"{name} is invalid")
            variables[match.group(1)] = value
        self.pipelines.append(variables)
        pipeline_id = len(self.pipelines)
        return Reply.json(201, {"id": pipeline_id, "ref": values["ref"], "status": "created"})


@pytest.fixture
def gitlab() -> FakeGitLab:
    return FakeGitLab()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, gitlab: FakeGitLab) -> Iterator[HttpFake]:
    monkeypatch.setenv("DW_GITLAB_TRIGGER_TOKEN", TOKEN)
    with HttpFake(gitlab) as server:
        yield server


def settings(url: str = "https://gitlab.com") -> GitLabReceiverSettings:
    return GitLabReceiverSettings(
        name="retrain",
        type="gitlab",
        url=url,
        project="acme/models",
        ref="main",
        token_env="DW_GITLAB_TRIGGER_TOKEN",
    )


def test_form_body_is_exact() -> None:
    assert (
        render_gitlab(sample_event(), "main", "t0k")
        == urlencode(
            [
                ("token", "t0k"),
                ("ref", "main"),
                ("variables[DRIFTWARDEN_MONITOR]", "credit-risk"),
                ("variables[DRIFTWARDEN_RULE]", "drift"),
                ("variables[DRIFTWARDEN_SEVERITY]", "critical"),
                ("variables[DRIFTWARDEN_RUN_ID]", "42"),
                ("variables[DRIFTWARDEN_RUN_URL]", "http://127.0.0.1:8470/api/runs/42"),
                ("variables[DRIFTWARDEN_WINDOW_START]", "2026-11-25T11:00:00+00:00"),
                ("variables[DRIFTWARDEN_WINDOW_END]", "2026-11-25T12:00:00+00:00"),
                ("variables[DRIFTWARDEN_DRIFTED_COLUMNS]", "income,device"),
                ("variables[DRIFTWARDEN_IDEMPOTENCY_KEY]", "credit-risk-3f2a9c0d1e4b-2"),
            ]
        ).encode()
    )


def test_pipeline_is_created(api: HttpFake, gitlab: FakeGitLab) -> None:
    notifier = GitLabNotifier(settings(api.url), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 201
    assert notifier.classify(response) is Verdict.DELIVERED
    (variables,) = gitlab.pipelines
    assert variables["DRIFTWARDEN_DRIFTED_COLUMNS"] == "income,device"
    assert variables["DRIFTWARDEN_IDEMPOTENCY_KEY"] == "credit-risk-3f2a9c0d1e4b-2"


def test_the_same_episode_sends_the_same_key() -> None:
    first = render_gitlab(sample_event(), "main", "t")
    assert first == render_gitlab(sample_event(), "main", "t")


def test_a_wrong_token_is_permanent(api: HttpFake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_GITLAB_TRIGGER_TOKEN", "revoked")
    notifier = GitLabNotifier(settings(api.url), "receivers[0]")
    response = send(notifier, sample_event())
    assert response.status_code == 404
    assert notifier.classify(response) is Verdict.PERMANENT


def test_resolved_event_sends_nothing(api: HttpFake) -> None:
    notifier = GitLabNotifier(settings(api.url), "receivers[0]")
    assert notifier.build_request(message_for(sample_event("resolved"))) is None
    assert api.requests == []
