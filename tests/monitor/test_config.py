"""Config errors name the table and key and say what was expected."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String

from detectors import METHODS
from monitor.config import load_settings, parse_settings
from monitor.notifiers.registry import NOTIFIERS
from monitor.secrets import SecretError, resolve_secret
from monitor.settings_base import (
    MAX_COLUMN_NAME,
    MAX_MONITOR_NAME,
    MAX_RECEIVER_NAME,
    MAX_RULE_NAME,
    ConfigError,
)
from monitor.store.models import AlertRow, MonitorRow, NotificationGroupRow, OutboxRow, ResultRow

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def monitor(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "m",
        "schedule": "every 5m",
        "source": {"type": "demo"},
        "reference": {
            "type": "window",
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T00:01:00Z",
        },
        "columns": [{"name": "age", "kind": "numeric"}],
    }
    base.update(overrides)
    return base


def error_of(data: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_settings(data)
    return str(raised.value)


def test_example_config_is_valid() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.server.listen == "127.0.0.1:8470"
    assert settings.store.url == "sqlite:///driftwarden.db"
    assert [m.source.type for m in settings.monitors] == ["demo"]


def test_schedule_error_names_key_and_expectation() -> None:
    message = error_of({"monitors": [monitor(), monitor(name="b", schedule="5 minutes")]})
    assert (
        'monitors[1].schedule: expected a cron expression or "every 5m", got "5 minutes"' in message
    )


@pytest.mark.parametrize(
    ("schedule", "every", "cron"),
    [("every 30s", timedelta(seconds=30), None), ("*/5 * * * *", None, "*/5 * * * *")],
)
def test_schedule_forms(schedule: str, every: timedelta | None, cron: str | None) -> None:
    settings = parse_settings({"monitors": [monitor(schedule=schedule)]})
    assert settings.monitors[0].schedule.every == every
    assert settings.monitors[0].schedule.cron == cron


def test_unknown_source_type_is_named() -> None:
    message = error_of({"monitors": [monitor(source={"type": "kafka"})]})
    assert (
        "monitors[0].source: unknown type kafka; expected one of 'demo', 'sql', 'file'" in message
    )


def test_unknown_key_and_missing_key() -> None:
    message = error_of(
        {"monitors": [monitor(columns=[{"name": "age", "kind": "numeric", "methd": "ks"}])]}
    )
    assert "monitors[0].columns[0].methd: unknown key" in message
    message = error_of({"monitors": [monitor(reference={"type": "file"})]})
    assert "monitors[0].reference.path: required key is missing" in message


def test_unknown_receiver_is_named() -> None:
    message = error_of({"monitors": [monitor(receivers=["ops"])]})
    assert 'monitors[0].receivers: unknown receiver "ops" (known: none are defined)' in message


def test_bad_duration_and_kind() -> None:
    message = error_of({"monitors": [monitor(window="an hour")]})
    assert 'monitors[0].window: expected a duration such as "30s"' in message
    message = error_of({"monitors": [monitor(columns=[{"name": "a", "kind": "text"}])]})
    assert "monitors[0].columns[0].kind" in message


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[store\nurl=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_settings(tmp_path / "absent.toml")


def test_secret_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DW_TEST_SECRET", "s3cret")
    assert resolve_secret("DW_TEST_SECRET", "receivers[0].secret_env") == "s3cret"
    monkeypatch.delenv("DW_TEST_SECRET")
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("DW_TEST_SECRET_FILE", str(secret_file))
    assert resolve_secret("DW_TEST_SECRET", "receivers[0].secret_env") == "from-file"
    monkeypatch.delenv("DW_TEST_SECRET_FILE")
    with pytest.raises(SecretError) as raised:
        resolve_secret("DW_TEST_SECRET", "receivers[0].secret_env")
    assert str(raised.value) == (
        "receivers[0].secret_env: environment variable DW_TEST_SECRET "
        "(or DW_TEST_SECRET_FILE) is not set"
    )


def test_example_parses_as_plain_toml() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    assert data["monitors"][0]["name"] == "demo"


def test_duplicate_receiver_name_is_named() -> None:
    hook = {"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/"}
    message = error_of({"receivers": [hook, hook]})
    assert 'receivers[1].name: receiver name "ops" is used twice' in message


def test_unknown_or_unfit_method_is_named() -> None:
    message = error_of(
        {"monitors": [monitor(columns=[{"name": "a", "kind": "numeric", "method": "kss"}])]}
    )
    assert (
        'monitors[0].columns[0].method: unknown method "kss" '
        f"(known: {', '.join(sorted(METHODS))})" in message
    )
    categorical = sorted(name for name, spec in METHODS.items() if "categorical" in spec.kinds)
    message = error_of(
        {"monitors": [monitor(columns=[{"name": "a", "kind": "categorical", "method": "ks"}])]}
    )
    assert (
        'monitors[0].columns[0]: method "ks" does not test categorical columns '
        f"(methods for categorical: {', '.join(categorical)})" in message
    )


def test_unknown_receiver_type_is_named() -> None:
    message = error_of({"receivers": [{"name": "ops", "type": "pager"}]})
    assert "receivers[0]: unknown type pager; expected one of 'webhook'" in message


def commented_blocks(text: str, header: str) -> list[str]:
    """The commented-out examples of the example config that start with ``# <header>``."""
    blocks, current = [], None
    for line in text.splitlines():
        if line == f"# {header}":
            current = [header]
            blocks.append(current)
        elif current is not None and line.startswith("# ") and line != "#":
            current.append(line[2:])
        else:
            current = None
    return ["\n".join(block) for block in blocks]


def test_every_commented_receiver_and_rule_example_is_valid() -> None:
    text = EXAMPLE.read_text()
    receivers = commented_blocks(text, "[[receivers]]")
    rules = commented_blocks(text, "[[monitors.rules]]")
    data = tomllib.loads(EXAMPLE.read_text())
    for block in receivers:
        data.setdefault("receivers", []).extend(tomllib.loads(block)["receivers"])
    data["monitors"][0]["rules"] = [
        tomllib.loads(block.replace("[[monitors.rules]]", "[[rules]]"))["rules"][0]
        for block in rules
    ]
    data["monitors"][0]["rules"] = [
        {**rule, "receivers": [r for r in rule.get("receivers", []) if r in _names(receivers)]}
        for rule in data["monitors"][0]["rules"]
    ]
    settings = parse_settings(data)
    assert {r.type for r in settings.receivers} == set(NOTIFIERS)
    assert {r.type for r in settings.monitors[0].rules} == {
        "dataset_drift",
        "column_drift",
        "performance",
        "data_quality",
        "run_failed",
        "no_data",
    }


def _names(blocks: list[str]) -> set[str]:
    return {tomllib.loads(block)["receivers"][0]["name"] for block in blocks}


# --- broken configs ------------------------------------------------------------
#
# Each entry is a TOML snippet and the one error `parse_settings` must give it.
# Every [[monitors]] table of a snippet is completed from monitor() (a snippet
# without one gets one), so a snippet holds only what is broken.

HOOK = '[[receivers]]\nname = "hook"\ntype = "webhook"\n'
LONG = "x" * 201
RULE = '[[monitors]]\n[[monitors.rules]]\nname = "r"\n'
CLASSIFIER = 'performance = {task = "classification", prediction = "p", label = "l"}\n'
SCORED = 'performance = {task = "classification", prediction = "p", label = "l", score = "s"}\n'
LABELLED = '[monitors.performance]\ntask = "classification"\nprediction = "p"\n'
LABELS = (
    '[monitors.performance.labels]\ntype = "file"\npath = "labels.csv"\nid_column = "id"\n'
    'label_column = "y"\n'
)

BROKEN: list[tuple[str, str]] = [
    # rules that could never be hit
    (
        RULE + 'type = "column_drift"\ncolumns = ["age", "agee"]\n',
        'monitors[0].rules[0].columns: "agee" is not one of the monitor\'s columns (age)',
    ),
    (
        RULE + 'type = "performance"\n',
        "monitors[0].rules[0].type: a performance rule needs the monitor's performance table "
        "(task, prediction, label or labels)",
    ),
    (
        "[[monitors]]\n" + CLASSIFIER + '[[monitors.rules]]\nname = "r"\ntype = "performance"\n'
        'metric = "mae"\n',
        'monitors[0].rules[0].metric: "mae" is not one of the monitor\'s classification metrics '
        "(accuracy, precision, recall, f1)",
    ),
    (
        "[[monitors]]\n" + CLASSIFIER + '[[monitors.rules]]\nname = "r"\ntype = "performance"\n'
        "estimated = true\n",
        "monitors[0].rules[0].estimated: estimates need a classification monitor with a score "
        "column (performance.score)",
    ),
    (
        "[[monitors]]\n" + SCORED + '[[monitors.rules]]\nname = "r"\ntype = "performance"\n'
        'estimated = true\nmetric = "average_precision"\n',
        'monitors[0].rules[0].metric: "average_precision" is not estimated from scores '
        "(estimated: accuracy, precision, recall, f1, roc_auc)",
    ),
    # performance: labels in the rows or from a label source, and what the task takes
    (
        '[[monitors]]\nperformance = {task = "classification", prediction = "p"}\n',
        "monitors[0].performance: set label (the label column of the window's rows) or labels "
        "(a label source joined by id), one of them",
    ),
    (
        "[[monitors]]\n" + LABELLED + 'label = "y"\nid_column = "id"\n' + LABELS,
        "monitors[0].performance: set label (the label column of the window's rows) or labels "
        "(a label source joined by id), not both",
    ),
    (
        "[[monitors]]\n" + LABELLED + LABELS,
        "monitors[0].performance.id_column: required with labels: the predictions' column "
        "labels are joined on",
    ),
    (
        '[[monitors]]\nperformance = {task = "regression", prediction = "p", label = "l", '
        'id_column = "id"}\n',
        "monitors[0].performance.id_column: joins labels from performance.labels, which is not set",
    ),
    (
        '[[monitors]]\nperformance = {task = "regression", prediction = "p", label = "l", '
        'score = "s"}\n',
        "monitors[0].performance.score: regression takes none (classification only)",
    ),
    (
        '[[monitors]]\nperformance = {task = "classification", prediction = "p", label = "l", '
        'metrics = ["roc_auc"]}\n',
        "monitors[0].performance.metrics: 'roc_auc' needs scores; pass the score column",
    ),
    (
        '[[monitors]]\nperformance = {task = "classification", prediction = "p", label = "l", '
        'metrics = ["auc"]}\n',
        "monitors[0].performance.metrics: unknown performance metric 'auc'; known metrics: "
        "accuracy, precision, recall, f1, roc_auc, average_precision, log_loss, mae, rmse, "
        "mape, r2",
    ),
    (
        '[[monitors]]\nperformance = {task = "regression", prediction = "p", label = "l", '
        'direction = "up"}\n',
        "monitors[0].performance.direction: Input should be 'worse' or 'both'",
    ),
    (
        "[[monitors]]\n" + LABELLED + 'id_column = "id"\n' + LABELS + "coverage = 0\n",
        "monitors[0].performance.labels.coverage: Input should be greater than 0",
    ),
    (
        "[[monitors]]\n" + LABELLED + 'id_column = "id"\n' + LABELS + 'max_wait = "-1d"\n',
        "monitors[0].performance.labels.max_wait: expected a duration such as "
        '"30s", "5m", "2h" or "1d", got "-1d"',
    ),
    (
        "[[monitors]]\n" + LABELLED + 'id_column = "id"\n'
        '[monitors.performance.labels]\ntype = "demo"\n',
        "monitors[0].performance.labels: unknown type demo; expected one of 'sql', 'file'",
    ),
    (
        "[[monitors]]\n" + LABELLED + 'id_column = "id"\n'
        '[monitors.performance.labels]\ntype = "sql"\nid_column = "id"\nlabel_column = "y"\n'
        'url = "sqlite://"\n',
        "monitors[0].performance.labels: set exactly one of table and query",
    ),
    (
        RULE + 'type = "column_drift"\ncolumns = []\n',
        "monitors[0].rules[0].columns: Tuple should have at least 1 item after validation, not 0",
    ),
    (
        RULE + 'type = "data_quality"\n',
        "monitors[0].rules[0]: set max_missing_share or max_new_category_share",
    ),
    (
        '[[monitors]]\nthresholds = {key_columns = ["nope"]}\n',
        'monitors[0]: thresholds.key_columns: "nope" is not one of the monitor\'s columns',
    ),
    (
        '[[monitors]]\ncolumns = [{name = "age", kind = "numeric", method = "ks", '
        "threshold = 5}]\n",
        "monitors[0].columns[0]: threshold 5 must be below 1: ks is a p-value test, whose "
        "threshold is a significance level",
    ),
    (
        '[[monitors]]\ncolumns = [{name = "c", kind = "categorical", threshold = 2}]\n',
        "monitors[0].columns[0]: threshold 2 must be below 1: the automatic method of "
        "categorical columns (fisher, chi2, jensenshannon, psi) may be a p-value test, whose "
        "threshold is a significance level",
    ),
    (
        '[[monitors]]\ncolumns = [{name = "age", kind = "numeric", method = "psi", '
        "effect_floor = 0.1}]\n",
        "monitors[0].columns[0]: effect_floor applies to p-value tests only: psi is a distance, "
        "whose floor is its threshold",
    ),
    (
        '[[monitors]]\ncolumns = [{name = "c", kind = "categorical", effect_floor = 0.1}]\n',
        "monitors[0].columns[0]: effect_floor applies to p-value tests only: the automatic "
        "method of categorical columns (fisher, chi2, jensenshannon, psi) may be a distance, "
        "whose floor is its threshold",
    ),
    # receiver URLs
    (
        HOOK + 'url = "file:///etc/passwd"\n',
        'receivers[0].url: expected an http:// or https:// URL, got scheme "file"',
    ),
    (
        HOOK + 'url = "gopher://example.com/"\n',
        'receivers[0].url: expected an http:// or https:// URL, got scheme "gopher"',
    ),
    (
        HOOK + 'url = "http://[::1"\n',
        "receivers[0].url: not a valid URL (its host or port cannot be read)",
    ),
    (
        HOOK + 'url = "http://example.com:99999/"\n',
        "receivers[0].url: not a valid URL (its host or port cannot be read)",
    ),
    (
        HOOK + 'url = "not a url"\n',
        "receivers[0].url: the URL holds white space or control characters",
    ),
    (HOOK + 'url = "http://"\n', "receivers[0].url: the URL has no host"),
    (
        HOOK + 'url = "example.com/hook"\n',
        'receivers[0].url: expected an http:// or https:// URL such as "https://example.com/hook"',
    ),
    (
        HOOK + 'url = "https://user:secret@example.com/hook"\n',
        "receivers[0].url: credentials do not belong in the URL: "
        "put them in a variable named by a *_env key",
    ),
    (
        '[[receivers]]\nname = "am"\ntype = "alertmanager"\nurl = "ftp://alertmanager:9093"\n',
        'receivers[0].url: expected an http:// or https:// URL, got scheme "ftp"',
    ),
    (
        '[[receivers]]\nname = "el"\ntype = "tekton"\nurl = "el-retrain:8080"\n',
        'receivers[0].url: expected an http:// or https:// URL, got scheme "el-retrain"',
    ),
    (
        '[[receivers]]\nname = "gh"\ntype = "github"\nrepository = "o/r"\ntoken_env = "T"\n'
        'api_url = "javascript:alert(1)"\n',
        'receivers[0].api_url: expected an http:// or https:// URL, got scheme "javascript"',
    ),
    # durations: positive, at most 100 years, in every form
    (
        '[store]\nurl = "sqlite://"\nretention = -1\n',
        "store.retention: expected a positive duration, got -1",
    ),
    (
        '[store]\nurl = "sqlite://"\nretention = 0\n',
        "store.retention: expected a positive duration, got 0",
    ),
    ("[delivery]\ntimeout = -1\n", "delivery.timeout: expected a positive duration, got -1"),
    (
        "[delivery]\npoll_interval = 0\n",
        "delivery.poll_interval: expected a positive duration, got 0",
    ),
    (
        "[delivery]\nmax_age = 1e300\n",
        "delivery.max_age: expected a duration up to 36500d (100 years), got 1e+300",
    ),
    (
        "[scheduler]\nmisfire_grace = nan\n",
        "scheduler.misfire_grace: expected a positive duration, got nan",
    ),
    ("[[monitors]]\nwindow = -1\n", "monitors[0].window: expected a positive duration, got -1"),
    (
        '[[monitors]]\nwindow = "999999999999d"\n',
        'monitors[0].window: expected a duration up to 36500d (100 years), got "999999999999d"',
    ),
    (
        "[[monitors]]\nwindow = inf\n",
        "monitors[0].window: expected a duration up to 36500d (100 years), got inf",
    ),
    (
        '[[monitors]]\nwindow = "an hour"\n',
        'monitors[0].window: expected a duration such as "30s", "5m", "2h" or "1d", got "an hour"',
    ),
    (
        "[[monitors]]\nwindow = true\n",
        'monitors[0].window: expected a duration such as "30s" or "5m", got True',
    ),
    (
        RULE + 'type = "run_failed"\nrepeat_interval = -5\n',
        "monitors[0].rules[0].repeat_interval: expected a positive duration, got -5",
    ),
    (
        RULE + 'type = "no_data"\nstale_after = 0\n',
        "monitors[0].rules[0].stale_after: expected a positive duration, got 0",
    ),
    (
        '[[monitors]]\nsource = {type = "demo", drift_cycle = "36501d", drift_for = "1m"}\n',
        "monitors[0].source.drift_cycle: expected a duration up to 36500d (100 years), "
        'got "36501d"',
    ),
    (
        '[[monitors]]\nthresholds = {false_alarms = "1/999999999999d"}\n',
        'monitors[0].thresholds.false_alarms: expected alarms per duration such as "1/30d" or '
        '"2/7d", got "1/999999999999d"',
    ),
    # schedules: at least 1s apart; a cron must fire
    (
        '[[monitors]]\nschedule = "every 1ms"\n',
        'monitors[0].schedule: "every 1ms" is shorter than the shortest interval, 1s',
    ),
    (
        '[[monitors]]\nschedule = "every 999999999999d"\n',
        'monitors[0].schedule: expected a duration up to 36500d (100 years), got "999999999999d"',
    ),
    (
        '[[monitors]]\nschedule = "every 0s"\n',
        'monitors[0].schedule: expected a positive duration, got "0s"',
    ),
    (
        '[[monitors]]\nschedule = "0 0 30 2 *"\n',
        'monitors[0].schedule: "0 0 30 2 *" never fires (no fire time in the next 5 years)',
    ),
    (
        '[[monitors]]\nschedule = "0 0 31 4,6,9,11 *"\n',
        'monitors[0].schedule: "0 0 31 4,6,9,11 *" never fires (no fire time in the next 5 years)',
    ),
    (
        '[[monitors]]\nschedule = "61 * * * *"\n',
        'monitors[0].schedule: expected a cron expression or "every 5m", got "61 * * * *"',
    ),
    (
        "[[monitors]]\nschedule = 5\n",
        'monitors[0].schedule: expected a cron expression or "every 5m", got 5',
    ),
    # floats are finite
    (
        '[[monitors]]\ncolumns = [{name = "age", kind = "numeric", threshold = inf}]\n',
        "monitors[0].columns[0].threshold: Input should be a finite number",
    ),
    (
        '[[monitors]]\ncolumns = [{name = "age", kind = "numeric", threshold = nan}]\n',
        "monitors[0].columns[0].threshold: Input should be a finite number",
    ),
    (
        '[[monitors]]\ncolumns = [{name = "age", kind = "numeric", effect_floor = inf}]\n',
        "monitors[0].columns[0].effect_floor: Input should be a finite number",
    ),
    (
        "[[monitors]]\nthresholds = {drift_share = nan}\n",
        "monitors[0].thresholds.drift_share: Input should be a finite number",
    ),
    (
        '[[monitors]]\nperformance = {task = "regression", prediction = "p", label = "l", '
        "allowed_drop = inf}\n",
        "monitors[0].performance.allowed_drop: Input should be a finite number",
    ),
    (
        '[[receivers]]\nname = "chat"\ntype = "slack"\nurl_env = "S"\nrate_limit = inf\n',
        "receivers[0].rate_limit: Input should be a finite number",
    ),
    (
        f'[[monitors]]\nthresholds = {{false_alarms = "{"9" * 400}/30d"}}\n',
        'monitors[0].thresholds.false_alarms: expected alarms per duration such as "1/30d" or '
        f'"2/7d", got "{"9" * 400}/30d" (too many alarms)',
    ),
    # names fit the store's columns, and are not empty
    (
        f'[[monitors]]\nname = "{LONG}"\n',
        "monitors[0].name: String should have at most 200 characters",
    ),
    (
        '[[monitors]]\nname = ""\n',
        "monitors[0].name: String should match pattern '^[A-Za-z0-9_.-]+$'",
    ),
    (
        '[[monitors]]\nname = "a b"\n',
        "monitors[0].name: String should match pattern '^[A-Za-z0-9_.-]+$'",
    ),
    (
        f'[[monitors]]\n[[monitors.rules]]\nname = "{"r" * 101}"\ntype = "run_failed"\n',
        "monitors[0].rules[0].name: String should have at most 100 characters",
    ),
    (
        f'[[receivers]]\nname = "{LONG}"\ntype = "webhook"\nurl = "http://127.0.0.1:9/"\n',
        "receivers[0].name: expected 1 to 200 characters, got 201",
    ),
    (
        '[[receivers]]\nname = ""\ntype = "webhook"\nurl = "http://127.0.0.1:9/"\n',
        "receivers[0].name: expected 1 to 200 characters, got 0",
    ),
    (
        f'[[monitors]]\ncolumns = [{{name = "{LONG}", kind = "numeric"}}]\n',
        "monitors[0].columns[0].name: String should have at most 200 characters",
    ),
    (
        '[[monitors]]\ncolumns = [{name = "", kind = "numeric"}]\n',
        "monitors[0].columns[0].name: String should have at least 1 character",
    ),
    (
        f'[[monitors]]\nperformance = {{task = "regression", prediction = "p", '
        f'label = "{LONG}"}}\n',
        "monitors[0].performance.label: String should have at most 200 characters",
    ),
    (
        '[[monitors]]\nperformance = {task = "regression", prediction = "", label = "l"}\n',
        "monitors[0].performance.prediction: String should have at least 1 character",
    ),
    # names used twice
    ("[[monitors]]\n[[monitors]]\n", 'monitors[1].name: monitor name "m" is used twice'),
    (
        '[[monitors]]\ncolumns = [{name = "age", kind = "numeric"}, '
        '{name = "age", kind = "numeric"}]\n',
        'monitors[0]: column "age" is listed twice',
    ),
    (
        RULE + 'type = "run_failed"\n[[monitors.rules]]\nname = "r"\ntype = "no_data"\n',
        'monitors[0]: rules[1].name: rule name "r" is used twice',
    ),
    (
        HOOK + 'url = "http://127.0.0.1:9/"\n' + HOOK + 'url = "http://127.0.0.1:9/"\n',
        'receivers[1].name: receiver name "hook" is used twice',
    ),
    (
        '[[monitors]]\nreceivers = ["hook", "hook"]\n' + HOOK + 'url = "http://127.0.0.1:9/"\n',
        'monitors[0].receivers: receiver "hook" is listed twice',
    ),
    (
        '[[monitors]]\nsinks = ["ml", "ml"]\n[[receivers]]\nname = "ml"\ntype = "mlflow"\n'
        'tracking_uri = "http://127.0.0.1:9"\nrun_id = "r"\n',
        'monitors[0].sinks: receiver "ml" is listed twice',
    ),
    # wrong types, empty lists, out-of-range numbers, unknown names
    ("[[monitors]]\ncolumns = []\n", "monitors[0].columns: at least one column is required"),
    (
        '[[monitors]]\ncolumns = [{name = "age", kind = "text"}]\n',
        "monitors[0].columns[0].kind: Input should be 'numeric' or 'categorical'",
    ),
    (
        '[[monitors]]\ncolumns = [{name = "age", kind = "numeric", methd = "ks"}]\n',
        "monitors[0].columns[0].methd: unknown key",
    ),
    (
        "[[monitors]]\nsample_limit = 0\n",
        "monitors[0].sample_limit: Input should be greater than or equal to 1",
    ),
    (
        '[[monitors]]\nsample_limit = "lots"\n',
        "monitors[0].sample_limit: Input should be a valid integer, unable to parse string as an "
        "integer",
    ),
    (
        '[[monitors]]\nsource = "demo"\n',
        "monitors[0].source: Input should be a valid dictionary or object to extract fields from",
    ),
    (
        '[[monitors]]\nsource = {type = "kafka"}\n',
        "monitors[0].source: unknown type kafka; expected one of 'demo', 'sql', 'file'",
    ),
    (
        '[[monitors]]\nreference = {type = "window", start = "2026-01-02T00:00:00Z", '
        'end = "2026-01-01T00:00:00Z"}\n',
        "monitors[0].reference: end must be after start",
    ),
    (
        '[[monitors]]\nreceivers = ["ops"]\n',
        'monitors[0].receivers: unknown receiver "ops" (known: none are defined)',
    ),
    (
        '[[monitors]]\nsinks = ["hook"]\n' + HOOK + 'url = "http://127.0.0.1:9/"\n',
        'monitors[0].sinks: receiver "hook" is of type webhook, not a sink (sink types: mlflow)',
    ),
    (
        RULE + 'type = "run_failed"\nfor = 0\n',
        "monitors[0].rules[0].for: Input should be greater than or equal to 1",
    ),
    (
        RULE + 'type = "run_failed"\nlabels = {team = 1}\n',
        "monitors[0].rules[0].labels.team: Input should be a valid string",
    ),
    (
        "[[monitors]]\nthresholds = {sequential_scales = [16, 4]}\n",
        "monitors[0].thresholds.sequential_scales: scales must be distinct and increasing, "
        "got [16, 4]",
    ),
    (
        "[[monitors]]\nthresholds = {sequential_scales = [4, 100000000]}\n",
        "monitors[0].thresholds.sequential_scales: every scale must be at most 1000 windows, "
        "got [4, 100000000]",
    ),
    (
        "[[monitors]]\nthresholds = {alpha = 1}\n",
        "monitors[0].thresholds.alpha: Input should be less than 1",
    ),
    (
        '[[monitors]]\nthresholds = {false_alarms = "0/30d"}\n',
        'monitors[0].thresholds.false_alarms: expected alarms per duration such as "1/30d" or '
        '"2/7d" with more than 0 alarms, got "0/30d"',
    ),
    (
        '[store]\nurl = "not a url"\n',
        'store.url: not an SQLAlchemy URL such as "sqlite:///driftwarden.db" or '
        '"postgresql+psycopg://host/db"',
    ),
    (
        '[store]\nurl = "sqlite:///x.db"\nurl_env = "X"\n',
        "store: set exactly one of url and url_env",
    ),
    (
        "[scheduler]\nmax_concurrent_runs = 0\n",
        "scheduler.max_concurrent_runs: Input should be greater than or equal to 1",
    ),
    (
        '[delivery]\nallow_hosts = [""]\n',
        'delivery.allow_hosts: allow_hosts[0]: expected a host name, address or network, got ""',
    ),
    (
        '[[receivers]]\nname = "t"\ntype = "http"\nurl = "http://x/"\nbody_template = "{{ "\n',
        "receivers[0].body_template: template syntax error on line 1: unexpected 'end of template'",
    ),
]


def config_of(snippet: str) -> dict[str, Any]:
    """The snippet's TOML, each [[monitors]] table completed from monitor() (one if none)."""
    data = tomllib.loads(snippet)
    data["monitors"] = [monitor(**entry) for entry in data.get("monitors", [{}])]
    return data


@pytest.mark.parametrize(
    ("snippet", "expected"), BROKEN, ids=[expected.split(":")[0] for _, expected in BROKEN]
)
def test_a_broken_config_gets_one_error_naming_its_key(snippet: str, expected: str) -> None:
    assert error_of(config_of(snippet)) == f"config: {expected}"


def _example_receivers() -> dict[str, dict[str, Any]]:
    """type -> the example config's commented [[receivers]] entry of that type."""
    blocks = commented_blocks(EXAMPLE.read_text(), "[[receivers]]")
    entries = [tomllib.loads(block)["receivers"][0] for block in blocks]
    return {entry["type"]: entry for entry in entries}


# Not sent to by driftwarden: Vertex AI reads the compiled pipeline (gs:// or https://).
NOT_ENDPOINTS = {("vertex", "template_uri")}


def _endpoint_keys() -> list[tuple[str, str]]:
    return [
        (kind, name)
        for kind, spec in NOTIFIERS.items()
        for name in spec.settings.model_fields
        if name.endswith(("url", "uri")) and (kind, name) not in NOT_ENDPOINTS
    ]


@pytest.mark.parametrize(("kind", "key"), _endpoint_keys())
def test_every_receiver_url_key_takes_only_http_urls(kind: str, key: str) -> None:
    entry = {**_example_receivers()[kind], key: "gopher://example.com/"}
    message = error_of({"receivers": [entry]})
    assert message == (
        f'config: receivers[0].{key}: expected an http:// or https:// URL, got scheme "gopher"'
    )


def test_name_limits_are_the_store_column_widths() -> None:
    widths = {
        MAX_MONITOR_NAME: [MonitorRow.__table__.c.name],
        MAX_RULE_NAME: [AlertRow.__table__.c.rule],
        MAX_RECEIVER_NAME: [
            OutboxRow.__table__.c.receiver,
            NotificationGroupRow.__table__.c.receiver,
        ],
        MAX_COLUMN_NAME: [ResultRow.__table__.c.column],
    }
    for limit, columns in widths.items():
        lengths = [c.type.length if isinstance(c.type, String) else None for c in columns]
        assert lengths == [limit] * len(columns)
    longest = parse_settings(
        {
            "monitors": [
                monitor(
                    name="m" * MAX_MONITOR_NAME,
                    columns=[{"name": "c" * MAX_COLUMN_NAME, "kind": "numeric"}],
                    rules=[{"name": "r" * MAX_RULE_NAME, "type": "run_failed"}],
                    receivers=["h" * MAX_RECEIVER_NAME],
                )
            ],
            "receivers": [
                {"name": "h" * MAX_RECEIVER_NAME, "type": "webhook", "url": "http://127.0.0.1:9/"}
            ],
        }
    )
    assert len(longest.monitors[0].name) == MAX_MONITOR_NAME


def test_a_cron_that_fires_only_on_leap_days_is_accepted() -> None:
    settings = parse_settings({"monitors": [monitor(schedule="0 0 29 2 *")]})
    assert settings.monitors[0].schedule.cron == "0 0 29 2 *"
