"""``--log-format json``: the formatter, the context fields, and the CLI's errors as JSON lines."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.logs import ContextFilter, JsonFormatter, current_context, log_context

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("driftwarden.test", logging.WARNING, __file__, 1, message, args, None)
    made.created = 1767225600.5  # 2026-01-01T00:00:00.5Z
    made.__dict__.update(extra)
    return made


def failing_record(**extra: object) -> logging.LogRecord:
    try:
        raise KeyError("schema_version")
    except KeyError:
        made = record("run failed", **extra)
        made.exc_info = sys.exc_info()
    return made


def test_a_record_is_one_line_of_json_with_its_fields_in_order() -> None:
    line = JsonFormatter(tracebacks=False).format(
        record(
            "message %s to %s: %s",
            "msg_1",
            "pager",
            "HTTP 503\nretrying «soon»",
            receiver="pager",
            message_id="msg_1",
            monitor="churn",
            run_id=12,
            rule=None,
        )
    )
    assert "\n" not in line
    assert list(json.loads(line).items()) == [
        ("time", "2026-01-01T00:00:00.500Z"),
        ("level", "WARNING"),
        ("logger", "driftwarden.test"),
        ("message", "message msg_1 to pager: HTTP 503\nretrying «soon»"),
        ("monitor", "churn"),
        ("run_id", 12),
        ("receiver", "pager"),
        ("message_id", "msg_1"),
    ]


def test_fields_outside_the_known_ones_are_never_written() -> None:
    """``extra`` that a call (or a library) adds may hold anything: only the known fields go out."""
    line = json.loads(JsonFormatter(tracebacks=False).format(record("x", url="http://a/?t=s3")))
    assert set(line) == {"time", "level", "logger", "message"}


def test_an_exception_is_one_field_its_traceback_only_with_debug() -> None:
    quiet = json.loads(JsonFormatter(tracebacks=False).format(failing_record()))
    assert quiet["exception"] == "KeyError"
    debug_line = JsonFormatter(tracebacks=True).format(failing_record())
    assert "\n" not in debug_line
    traceback = json.loads(debug_line)["exception"]
    assert traceback.startswith("Traceback (most recent call last):\n")
    assert "in failing_record" in traceback
    assert traceback.endswith("KeyError: 'schema_version'")


def test_log_context_fields_reach_records_and_extra_wins() -> None:
    context_filter = ContextFilter()
    with log_context(monitor="churn", run_id=3):
        inside = record("inside")
        given = record("alert", rule="drift", run_id=4)
        assert context_filter.filter(inside) and context_filter.filter(given)
    outside = record("outside")
    context_filter.filter(outside)
    assert (inside.monitor, inside.run_id) == ("churn", 3)  # type: ignore[attr-defined]
    assert (given.monitor, given.run_id, given.rule) == ("churn", 4, "drift")  # type: ignore[attr-defined]
    assert not hasattr(outside, "monitor")


def test_log_context_is_per_thread_and_refuses_unknown_fields() -> None:
    seen: list[dict[str, object]] = []
    with log_context(monitor="churn"):
        thread = threading.Thread(target=lambda: seen.append(dict(current_context())))
        thread.start()
        thread.join()
    assert seen == [{}]
    with (
        pytest.raises(ValueError, match=r"unknown log context fields \['token'\]"),
        log_context(token="x"),
    ):
        pass


def test_errors_are_json_lines_with_log_format_json(tmp_path: Path) -> None:
    """Every line on stderr is JSON, the one line of an error included."""
    config = tmp_path / "bad.toml"
    config.write_text('[[monitors]]\nname = "m"\nschedule = "5 minutes"\n')
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "--log-format",
            "json",
            "validate",
            "-c",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    [line] = [json.loads(text) for text in completed.stderr.splitlines()]
    assert line["level"] == "ERROR"
    assert line["logger"] == "driftwarden"
    assert "monitors[0].schedule" in line["message"]
    assert "exception" not in line


def test_an_unexpected_error_logs_its_traceback_as_the_exception_only_with_debug(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from monitor import commands

    secret = "https://hooks.example/T0K3N-abcdef"
    monkeypatch.setenv("DW_TEST_HOOK_URL", secret)

    def broken(*args: object) -> int:
        raise RuntimeError(f"cannot post to {secret}")

    monkeypatch.setattr(commands, "validate", broken)
    config = tmp_path / "hook.toml"
    config.write_text(
        EXAMPLE.read_text()
        + '\n[[receivers]]\nname = "hook"\ntype = "webhook"\nurl_env = "DW_TEST_HOOK_URL"\n'
    )
    for debug in ([], ["--debug"]):
        caplog.clear()
        assert main(["--log-format", "json", *debug, "validate", "--config", str(config)]) == 2
        [error] = [r for r in caplog.records if r.name == "driftwarden"]
        assert error.getMessage().startswith(
            "validate failed unexpectedly: RuntimeError: cannot post to $DW_TEST_HOOK_URL"
        )
        assert (error.exc_info is not None) == bool(debug)
        assert capsys.readouterr().err == ""  # no traceback lines besides the log line
