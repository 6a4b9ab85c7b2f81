"""Public datasets the acceptance tests replay, fetched once into a cache, never committed.

NannyML (Apache-2.0) ships synthetic monitoring datasets inside its wheel:
a car-loan classifier whose performance drops halfway through its analysis
period, and a car-price regressor. Its reference, analysis and analysis
target files are joined by ``id``. The wheel is fetched with pip (no
nannyml install, no dependency of the project), its sha256 checked, and
the CSVs read out of it with zipfile into ``DRIFTWARDEN_TEST_DATA``
(default ``~/.cache/driftwarden-test-data``).

Without network or pip, the tests skip loudly, except in CI (``CI=true``),
where they must run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Final

import pytest

WHEEL: Final = "nannyml-0.13.1-py3-none-any.whl"
WHEEL_SHA256: Final = "cf5f4a33489834ae6773cb1baa33a0f98c0a3ee6ed9b43049478b25ce22fe869"
MEMBER_DIR: Final = "nannyml/datasets/data/"

CAR_LOAN: Final = (
    "synthetic_car_loan_reference.csv",
    "synthetic_car_loan_analysis.csv",
    "synthetic_car_loan_analysis_target.csv",
)
REGRESSION: Final = (
    "regression_synthetic_reference.csv",
    "regression_synthetic_analysis.csv",
    "regression_synthetic_analysis_targets.csv",
)


def cache_dir() -> Path:
    return Path(os.environ.get("DRIFTWARDEN_TEST_DATA", "~/.cache/driftwarden-test-data"))


def _unavailable(reason: str) -> None:
    message = f"the NannyML datasets ({WHEEL}) cannot be had: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the acceptance replays must run in CI)")
    pytest.skip("LOUD SKIP: " + message)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _wheel(cache: Path) -> Path:
    wheel = cache / WHEEL
    if not wheel.is_file() or _sha256(wheel) != WHEEL_SHA256:
        wheel.unlink(missing_ok=True)
        command = [sys.executable, "-m", "pip", "download", "nannyml==0.13.1", "--no-deps"]
        try:
            done = subprocess.run(
                [*command, "--quiet", "-d", str(cache)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            _unavailable(f"pip download failed ({exc})")
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            _unavailable(f"pip download exited {done.returncode}: {lines[-1] if lines else ''}")
    found = _sha256(wheel) if wheel.is_file() else "no file"
    if found != WHEEL_SHA256:
        _unavailable(f"{wheel} has sha256 {found}, expected {WHEEL_SHA256}")
    return wheel


def nannyml_files(names: tuple[str, ...]) -> dict[str, Path]:
    """The named CSVs of the NannyML wheel, extracted into the cache (fetched on first use)."""
    cache = cache_dir().expanduser()
    target = cache / "nannyml-0.13.1"
    paths = {name: target / name for name in names}
    if all(path.is_file() for path in paths.values()):
        return paths
    cache.mkdir(parents=True, exist_ok=True)
    target.mkdir(exist_ok=True)
    with zipfile.ZipFile(_wheel(cache)) as archive:
        for name, path in paths.items():
            partial = path.with_suffix(".part")
            partial.write_bytes(archive.read(MEMBER_DIR + name))
            partial.replace(path)
    return paths
