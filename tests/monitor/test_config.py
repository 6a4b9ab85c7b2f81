"""Config errors name the table and key and say what was expected."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from detectors import METHODS
from monitor.config import load_settings, parse_settings
from monitor.notifiers.registry import NOTIFIERS
from monitor.secrets import SecretError, resolve_secret
from monitor.settings_base import ConfigError

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
