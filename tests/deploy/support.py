"""What the deploy tests share: the files, the validators that check them, the config check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

DEPLOY: Final = Path(__file__).resolve().parents[2] / "deploy"

READ_TOKEN: Final = "read-token-for-the-deploy-tests-0123456789"
"""A value for every token variable a deploy config names (16 characters or more)."""


def command_or_skip(name: str, package: str) -> str:
    """A validator's executable: a loud skip without it, a failure in CI.

    Debian's packages put theirs on PATH; the test extras' (hadolint,
    kubernetes-validate, check-jsonschema) sit beside the interpreter.
    """
    beside = Path(sys.executable).parent / name
    found = shutil.which(name) or (str(beside) if beside.exists() else None)
    if found is not None:
        return found
    message = f"{name} is not installed ({package})"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the deploy files must be checked in CI)")
    pytest.skip("LOUD SKIP: " + message)


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def validate_config(path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """``driftwarden validate`` of a deploy config, with its secrets' variables set."""
    env = {**os.environ, **environment}
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "validate", "--config", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_valid_config(path: Path, **environment: str) -> None:
    """Valid, every secret set, and nothing for `run` to refuse (no warning at all)."""
    result = validate_config(path, **environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", result.stderr
