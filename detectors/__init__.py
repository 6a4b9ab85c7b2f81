"""driftwarden's statistics: fit a reference profile, test a column, correct, compare.

Pure numpy/scipy/pandas; never imports ``monitor``, so a notebook or a CI
job gets the same numbers the daemon stores.
"""

from detectors._kinds import ColumnKind, PerformanceTask, ResultStatus
from detectors.column import test_column
from detectors.correction import Correction, apply_correction
from detectors.performance import compare_performance, performance_metrics
from detectors.profile import ColumnProfile, fit_profile
from detectors.registry import (
    METHODS,
    MethodSpec,
    UnknownMethodError,
    default_method,
    get_method,
)
from detectors.result import ColumnResult

__all__ = [
    "METHODS",
    "ColumnKind",
    "ColumnProfile",
    "ColumnResult",
    "Correction",
    "MethodSpec",
    "PerformanceTask",
    "ResultStatus",
    "UnknownMethodError",
    "apply_correction",
    "compare_performance",
    "default_method",
    "fit_profile",
    "get_method",
    "performance_metrics",
    "test_column",
]
