"""deploy/driftwarden.service: ``systemd-analyze verify`` and ``security``, and what it must say.

``systemd-analyze verify`` runs without a running systemd (it loads the unit
file offline), but it checks that ExecStart's program exists: the unit is
verified as written except for its install prefix, /opt/driftwarden, which
here is a directory whose bin/driftwarden is this checkout's command. An
unknown or misspelt key is only a warning to systemd, so any output fails.
``systemd-analyze security --offline=yes`` scores the sandboxing. The
structural test reads the unit itself and needs no systemd at all.
"""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

from tests.deploy.support import DEPLOY, command_or_skip, run

UNIT = DEPLOY / "driftwarden.service"
PREFIX = "/opt/driftwarden/"
MAX_EXPOSURE = 2.0
"""systemd's scale runs from 0 (locked down) to 10 (unprotected); below 2 is its "OK"."""


def installed_here(tmp_path: Path) -> Path:
    """The unit with its prefix pointing at a bin/driftwarden of this checkout."""
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "driftwarden").symlink_to(Path(sys.executable).parent / "driftwarden")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(PREFIX, f"{prefix}/"))
    return unit


def unit_file() -> configparser.ConfigParser:
    """The unit's sections; of a key given twice (systemd allows it) the last value."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text())
    return unit


def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    analyze = command_or_skip("systemd-analyze", "Debian package `systemd`")
    result = run(analyze, "verify", str(installed_here(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


def test_its_sandbox_scores_ok_in_systemd_analyze_security(tmp_path: Path) -> None:
    analyze = command_or_skip("systemd-analyze", "Debian package `systemd`")
    result = run(analyze, "security", "--offline=yes", str(installed_here(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert score is not None, result.stdout
    assert float(score.group(1)) <= MAX_EXPOSURE, result.stdout


def test_it_makes_its_user_and_state_directory_and_restarts_on_failure() -> None:
    unit = unit_file()
    single = unit["Service"]
    assert single["DynamicUser"] == "yes"
    assert single["StateDirectory"] == "driftwarden"
    assert single["WorkingDirectory"] == "/var/lib/driftwarden"
    assert single["ConfigurationDirectory"] == "driftwarden"
    assert single["EnvironmentFile"] == "-/etc/driftwarden/env"
    assert single["Restart"] == "on-failure"
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert single[key] == "yes", key
    assert single["ProtectSystem"] == "strict"
    assert single["CapabilityBoundingSet"] == ""
    config = "/etc/driftwarden/config.toml"
    assert single["ExecStartPre"] == f"{PREFIX}bin/driftwarden validate --config {config}"
    assert single["ExecStart"] == f"{PREFIX}bin/driftwarden run --config {config}"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert unit["Unit"]["After"] == "network-online.target"
