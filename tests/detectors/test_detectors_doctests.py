"""Run every docstring example in the package.

pytest's ``--doctest-modules`` only sees modules under the paths it is
given, and the test command points at ``tests/``; this keeps the seeded
examples tested by ``pytest tests/detectors`` too.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import detectors

MODULES = sorted(info.name for info in pkgutil.iter_modules(detectors.__path__, "detectors."))


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert outcome.failed == 0


def test_seeded_examples_exist_for_each_method_module() -> None:
    for name in ("ks", "wasserstein", "chi2", "psi"):
        module = importlib.import_module(f"detectors.{name}")
        assert doctest.DocTestFinder().find(module)[0].examples, name
