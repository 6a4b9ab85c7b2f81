"""The `driftwarden` command as CI uses it: exit codes, JSON, and messages without tracebacks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.cli import main

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def write_frames(directory: Path, shift: float) -> None:
    rng = np.random.default_rng(11)
    n = 2000
    pd.DataFrame(
        {"x": rng.normal(0, 1, n), "y": rng.normal(0, 1, n), "c": rng.choice(["a", "b"], n)}
    ).to_parquet(directory / "reference.parquet")
    now = datetime.now(UTC)
    pd.DataFrame(
        {
            "ts": [now - timedelta(minutes=30) + timedelta(milliseconds=500 * i) for i in range(n)],
            "x": rng.normal(shift, 1, n),
            "y": rng.normal(0, 1, n),
            "c": rng.choice(["a", "b"], n),
        }
    ).to_csv(directory / "current.csv", index=False)


def write_config(directory: Path, store_url: str, columns: str = '"x", "y"') -> Path:
    column_tables = "".join(
        f'[[monitors.columns]]\nname = {name.strip()}\nkind = "numeric"\n'
        for name in columns.split(",")
    )
    path = directory / "config.toml"
    path.write_text(
        f"""
[store]
url = "{store_url}"

[[monitors]]
name = "gate"
schedule = "every 1h"
window = "1h"

[monitors.source]
type = "file"
path = "{directory}/current.csv"
timestamp_column = "ts"

[monitors.reference]
type = "file"
path = "{directory}/reference.parquet"

{column_tables}
"""
    )
    return path


def test_check_exits_1_on_drift_with_json_columns(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_frames(tmp_path, shift=1.0)
    config = write_config(tmp_path, sqlite_url)
    assert main(["check", "--config", str(config), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["drifted"] is True
    columns = {c["column"]: c for c in report["columns"]}
    assert set(columns) == {"x", "y"}
    assert columns["x"]["drifted"] is True and columns["y"]["drifted"] is False
    assert set(columns["x"]) >= {
        "column",
        "method",
        "statistic",
        "p_value",
        "threshold",
        "drifted",
        "n_reference",
        "n_current",
    }
    assert columns["x"]["method"] == "ks" and columns["x"]["n_current"] == 2000

    assert main(["history", "--config", str(config), "--monitor", "gate"]) == 0
    history = capsys.readouterr().out
    assert "check" in history and "drifted" in history


def test_check_exits_0_without_drift(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_frames(tmp_path, shift=0.0)
    config = write_config(tmp_path, sqlite_url)
    assert main(["check", "--config", str(config)]) == 0
    assert "monitor gate (run 1): succeeded: no drift: 0 of 2 columns drifted" in (
        capsys.readouterr().out
    )


def test_check_with_unknown_column_exits_2_and_stores_the_failure(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_frames(tmp_path, shift=0.0)
    config = write_config(tmp_path, sqlite_url, columns='"x", "salary"')
    assert main(["check", "--config", str(config)]) == 2
    out = capsys.readouterr().out
    assert 'failed: reference has no column "salary" (columns found: x, y, c)' in out
    assert main(["history", "--config", str(config), "--monitor", "gate", "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [run["status"] for run in runs] == ["failed"]


def test_unreachable_store_is_a_message_without_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_frames(tmp_path, shift=0.0)
    config = write_config(tmp_path, "postgresql+psycopg://app:hunter2@127.0.0.1:1/x")
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "driftwarden: error: store postgresql+psycopg://app:***@127.0.0.1:1/x: cannot connect"
    )
    assert "hunter2" not in err and "Traceback" not in err


def test_validate_reports_key_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--config", str(EXAMPLE)]) == 0
    assert "valid (1 monitors, 0 receivers)" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace('schedule = "every 20s"', 'schedule = "often"'))
    assert main(["validate", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert 'monitors[0].schedule: expected a cron expression or "every 5m", got "often"' in err


def test_compare_is_a_gate_without_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_frames(tmp_path, shift=1.0)
    reference, current = tmp_path / "reference.parquet", tmp_path / "current.csv"
    assert main(["compare", str(reference), str(current), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {c["column"]: c["drifted"] for c in report["columns"]} == {
        "x": True,
        "y": False,
        "c": False,
    }
    assert {c["column"]: c["method"] for c in report["columns"]} == {
        "x": "ks",
        "y": "ks",
        "c": "chi2",
    }
    assert main(["compare", str(reference), str(reference)]) == 0
    capsys.readouterr()
    assert main(["compare", str(reference), str(current), "--columns", "x,zz"]) == 2
    assert 'reference has no column "zz" (columns found: x, y, c)' in capsys.readouterr().err
    assert main(["compare", str(reference), str(tmp_path / "absent.csv")]) == 2
    assert "absent.csv" in capsys.readouterr().err


def test_check_on_the_example_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What a newcomer gets from the example, with the store moved to a temp dir."""
    data = tomllib.loads(EXAMPLE.read_text())
    assert data["store"]["url"] == "sqlite:///driftwarden.db"
    config = tmp_path / "example.toml"
    config.write_text(
        EXAMPLE.read_text().replace(
            'url = "sqlite:///driftwarden.db"', f'url = "sqlite:///{tmp_path}/dw.db"'
        )
    )
    assert main(["check", "--config", str(config), "--format", "json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    assert [m["status"] for m in report["monitors"]] == ["succeeded"]
    assert {c["column"] for c in report["columns"]} >= {"age", "income", "device", "label"}


def test_run_refuses_a_port_in_use(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_frames(tmp_path, shift=0.0)
    config = write_config(tmp_path, sqlite_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config.write_text(f'[server]\nlisten = "127.0.0.1:{port}"\n' + config.read_text())
        assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"server.listen: cannot listen on 127.0.0.1:{port} (Address already in use)" in err


def test_run_refuses_to_start_without_its_secrets(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_frames(tmp_path, shift=0.0)
    config = write_config(tmp_path, sqlite_url)
    config.write_text(
        config.read_text()
        + '\n[[receivers]]\nname = "hook"\ntype = "webhook"\n'
        + 'url_env = "DW_TEST_ABSENT_URL"\nsecret_env = "DW_TEST_ABSENT_SECRET"\n'
    )
    assert main(["validate", "--config", str(config)]) == 0
    assert "warning: receivers[0].url_env: environment variable DW_TEST_ABSENT_URL" in (
        capsys.readouterr().err
    )
    assert main(["run", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "driftwarden: error: cannot start: receivers[0].url_env: environment variable "
        "DW_TEST_ABSENT_URL (or DW_TEST_ABSENT_URL_FILE) is not set; receivers[0].secret_env: "
        "environment variable DW_TEST_ABSENT_SECRET (or DW_TEST_ABSENT_SECRET_FILE) is not set\n"
    )


def test_silences_add_list_expire(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_frames(tmp_path, shift=0.0)
    config = str(write_config(tmp_path, sqlite_url))
    assert (
        main(
            [
                "silences",
                "add",
                "-c",
                config,
                "-m",
                "monitor=gate",
                "-d",
                "2h",
                "--comment",
                "rollout",
                "--author",
                "ops",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("silence 1 added until ")
    assert main(["silences", "list", "-c", config, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["id"], s["matchers"], s["comment"], s["created_by"]) for s in listed] == [
        (1, ["monitor=gate"], "rollout", "ops")
    ]
    assert main(["silences", "expire", "-c", config, "1"]) == 0
    assert capsys.readouterr().out == "silence 1 expired\n"
    assert main(["silences", "list", "-c", config, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["silences", "expire", "-c", config, "9"]) == 2
    assert "no silence with id 9" in capsys.readouterr().err
    assert main(["silences", "add", "-c", config, "-m", "monitor", "--comment", "x"]) == 2
    assert 'matcher "monitor": expected name=value' in capsys.readouterr().err


def write_nested(directory: Path, kind: str) -> None:
    """Reference and current files with a column of lists, structs or bytes besides x."""
    rng = np.random.default_rng(5)
    n = 300

    def values() -> list[object]:
        drawn = [int(v) for v in rng.integers(0, 3, n)]
        if kind == "list":
            return [[v, v + 1] for v in drawn]
        if kind == "struct":
            return [{"a": v} for v in drawn]
        return [bytes([v]) for v in drawn]

    pd.DataFrame({"x": rng.normal(0, 1, n), "tags": values()}).to_parquet(
        directory / "reference.parquet"
    )
    now = datetime.now(UTC)
    pd.DataFrame(
        {
            "ts": [now - timedelta(minutes=30) + timedelta(seconds=i) for i in range(n)],
            "x": rng.normal(0, 1, n),
            "tags": values(),
        }
    ).to_parquet(directory / "current.parquet")


NESTED_TYPES = {
    "list": "list values (numpy.ndarray)",
    "struct": "struct values (dict)",
    "bytes": "bytes values (bytes)",
}


@pytest.mark.parametrize("kind", list(NESTED_TYPES))
def test_compare_refuses_a_nested_column_by_name_and_type(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_nested(tmp_path, kind)
    files = [str(tmp_path / "reference.parquet"), str(tmp_path / "current.parquet")]
    assert main(["compare", *files]) == 2
    assert capsys.readouterr().err == (
        f"driftwarden: error: reference: column 'tags' holds {NESTED_TYPES[kind]}; "
        "drift tests compare numbers, strings and booleans only\n"
    )
    assert main(["compare", *files, "--columns", "x"]) == 0


@pytest.mark.parametrize("column_kind", ["numeric", "categorical"])
def test_check_stores_a_nested_column_as_a_failed_run(
    tmp_path: Path, sqlite_url: str, column_kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list-valued column used to crash `check` with a TypeError and Python's exit 1."""
    write_nested(tmp_path, "list")
    config = write_config(tmp_path, sqlite_url, columns='"x", "tags"')
    text = config.read_text().replace("current.csv", "current.parquet")
    config.write_text(
        text.replace('name = "tags"\nkind = "numeric"', f'name = "tags"\nkind = "{column_kind}"')
    )
    assert main(["check", "--config", str(config), "--format", "json"]) == 2
    report = json.loads(capsys.readouterr().out)
    reason = (
        "column 'tags' holds list values (numpy.ndarray); "
        "drift tests compare numbers, strings and booleans only"
    )
    assert [(m["status"], m["reason"]) for m in report["monitors"]] == [("failed", reason)]


def test_a_huge_every_is_a_config_error_naming_the_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to crash `validate` with an OverflowError."""
    config = tmp_path / "huge.toml"
    config.write_text(
        EXAMPLE.read_text().replace('schedule = "every 20s"', 'schedule = "every 999999999999d"')
    )
    assert main(["validate", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"driftwarden: error: {config}: monitors[0].schedule: expected a duration up to 36500d "
        '(100 years), got "999999999999d"\n'
    )


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{% for i in range(10**9) %}x{% endfor %}", "OverflowError: Range too big."),
        ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
        ('{{ "x" * 10**9 }}', "a repetition longer than 100000 is not allowed"),
    ],
)
def test_a_runaway_template_is_a_config_error_naming_the_key(
    tmp_path: Path, template: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "template.toml"
    config.write_text(
        EXAMPLE.read_text()
        + '\n[[receivers]]\nname = "retrain"\ntype = "http"\nurl = "https://ci.example/run"\n'
        + f"body_template = '{template}'\n"
    )
    assert main(["validate", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"driftwarden: error: {config}: receivers[0].body_template: template: ")
    assert why in err and err.count("\n") == 1


def test_an_unexpected_error_exits_2_with_one_line_and_the_traceback_only_with_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 1 means drift: a bug must not look like one. (A stand-in for any bug in a command.)"""
    from monitor import commands

    def broken(*args: object) -> int:
        raise KeyError("schema_version")

    monkeypatch.setattr(commands, "validate", broken)
    assert main(["validate", "--config", str(EXAMPLE)]) == 2
    assert capsys.readouterr().err == (
        "driftwarden: error: validate failed unexpectedly: KeyError: 'schema_version' "
        "(--debug shows the traceback)\n"
    )
    assert main(["--debug", "validate", "--config", str(EXAMPLE)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n")
    assert err.endswith(
        "driftwarden: error: validate failed unexpectedly: KeyError: 'schema_version'\n"
    )


def test_an_unexpected_error_shows_secrets_as_their_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor import commands

    secret = "https://hooks.example/T0K3N-abcdef"
    monkeypatch.setenv("DW_TEST_HOOK_URL", secret)
    config = tmp_path / "hook.toml"
    config.write_text(
        EXAMPLE.read_text()
        + '\n[[receivers]]\nname = "hook"\ntype = "webhook"\nurl_env = "DW_TEST_HOOK_URL"\n'
    )

    def broken(*args: object) -> int:
        raise RuntimeError(f"cannot post to {secret}\n  while checking")

    monkeypatch.setattr(commands, "validate", broken)
    assert main(["validate", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "driftwarden: error: validate failed unexpectedly: RuntimeError: cannot post to "
        "$DW_TEST_HOOK_URL while checking (--debug shows the traceback)\n"
    )


def test_the_console_script_exits_2_on_a_nested_column(tmp_path: Path) -> None:
    write_nested(tmp_path, "struct")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "compare",
            str(tmp_path / "reference.parquet"),
            str(tmp_path / "current.parquet"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        "driftwarden: error: reference: column 'tags' holds struct values (dict); "
        "drift tests compare numbers, strings and booleans only"
    ]


def test_run_refuses_an_open_api_beyond_loopback(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_frames(tmp_path, shift=0.0)
    config = write_config(tmp_path, sqlite_url)
    config.write_text('[server]\nlisten = "0.0.0.0:8470"\n' + config.read_text())
    refusal = (
        'server.listen: "0.0.0.0:8470" is not a loopback address and no server.tokens are '
        "configured; add tokens, listen on 127.0.0.1, or set server.allow_unauthenticated = "
        "true to serve the API to anyone who can reach it"
    )
    assert main(["validate", "--config", str(config)]) == 0
    assert capsys.readouterr().err == f"warning: `run` will refuse to start: {refusal}\n"
    assert main(["run", "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"driftwarden: error: {refusal}\n"


def test_run_refuses_to_start_without_its_api_token(
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DW_TEST_ABSENT_TOKEN", raising=False)
    monkeypatch.delenv("DW_TEST_ABSENT_TOKEN_FILE", raising=False)
    write_frames(tmp_path, shift=0.0)
    config = write_config(tmp_path, sqlite_url)
    config.write_text(
        '[server]\nlisten = "0.0.0.0:8470"\n'
        'tokens = [{ name = "grafana", scope = "read", token_env = "DW_TEST_ABSENT_TOKEN" }]\n'
        + config.read_text()
    )
    missing = (
        "server.tokens[0].token_env: environment variable DW_TEST_ABSENT_TOKEN "
        "(or DW_TEST_ABSENT_TOKEN_FILE) is not set"
    )
    assert main(["validate", "--config", str(config)]) == 0
    assert capsys.readouterr().err == f"warning: {missing}\n"
    assert main(["run", "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"driftwarden: error: cannot start: {missing}\n"


@pytest.mark.parametrize("command", ["validate", "run", "check"])
def test_a_config_without_monitors_is_refused(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{sqlite_url}"\n')
    assert main([command, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    where = {"validate": f"{config}", "run": "cannot start", "check": "nothing to check"}[command]
    assert err == f"driftwarden: error: {where}: monitors: the config defines no [[monitors]]\n"


UNUSABLE_SECRET = "s3cr3t-Value!"

# (key, the variable's value, what validate and run say of it)
MALFORMED_SECRETS = [
    (
        "secret_env",
        UNUSABLE_SECRET,
        "receivers[0].secret_env: the value of DW_TEST_SECRET is unusable: "
        "the signing secret is not base64 (expected whsec_<base64>)",
    ),
    (
        "secret_env",
        "whsec_",
        "receivers[0].secret_env: the value of DW_TEST_SECRET is unusable: "
        "the signing secret is empty",
    ),
    (
        "url_env",
        f"file:///{UNUSABLE_SECRET}",
        "receivers[0].url_env: the value of DW_TEST_SECRET is unusable: "
        'expected an http:// or https:// URL, got scheme "file"',
    ),
    (
        "url_env",
        f"https://[{UNUSABLE_SECRET}",
        "receivers[0].url_env: the value of DW_TEST_SECRET is unusable: "
        "not a valid URL (its host or port cannot be read)",
    ),
]


@pytest.mark.parametrize(("key", "value", "expected"), MALFORMED_SECRETS)
def test_a_malformed_secret_is_an_error_naming_key_and_variable_never_the_value(
    tmp_path: Path,
    sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    value: str,
    expected: str,
) -> None:
    write_frames(tmp_path, shift=0.0)
    config = write_config(tmp_path, sqlite_url)
    other = {"secret_env": 'url = "http://127.0.0.1:9/"', "url_env": ""}[key]
    config.write_text(
        config.read_text()
        + f'\n[[receivers]]\nname = "hook"\ntype = "webhook"\n{key} = "DW_TEST_SECRET"\n{other}\n'
    )
    monkeypatch.setenv("DW_TEST_SECRET", value)
    assert main(["validate", "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"driftwarden: error: {config}: {expected}\n"
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err == f"driftwarden: error: cannot start: {expected}\n"
    assert UNUSABLE_SECRET not in err
