"""driftwarden's statistics: fit a reference profile, test a column, correct, compare.

Pure numpy/scipy/pandas, and scikit-learn for model metrics and
calibration (``detectors.performance``); never imports ``monitor``, so a
notebook or a CI job gets the same numbers the daemon stores.
"""

from detectors._json import finite_or_none
from detectors._kinds import ColumnKind, PerformanceTask, ResultStatus
from detectors._prepare import PreparedColumn
from detectors.choice import choice_table, choose_method
from detectors.column import compare_column, compare_prepared, prepare_column
from detectors.correction import Correction, apply_correction
from detectors.decision import DatasetDecision, DecisionRule, decide
from detectors.multivariate import (
    MultivariateProfile,
    compare_mmd,
    compare_pca_reconstruction,
    fit_multivariate,
)
from detectors.noise import (
    histogram_noise_floor,
    normed_energy_noise_floor,
    normed_wasserstein_noise_floor,
)
from detectors.performance import (
    METRICS as PERFORMANCE_METRICS,
)
from detectors.performance import (
    MetricSpec,
    PerformanceProfile,
    compare_performance,
    estimate_performance,
    fit_performance,
    performance_metrics,
)
from detectors.profile import ColumnProfile, fit_profile
from detectors.registry import (
    METHODS,
    MethodSpec,
    UnknownMethodError,
    default_method,
    get_method,
)
from detectors.result import ColumnResult
from detectors.window_summary import WindowSummary, summarise_column, summarise_frame

__all__ = [
    "METHODS",
    "ColumnKind",
    "ColumnProfile",
    "ColumnResult",
    "PreparedColumn",
    "Correction",
    "DatasetDecision",
    "DecisionRule",
    "MethodSpec",
    "MetricSpec",
    "MultivariateProfile",
    "PERFORMANCE_METRICS",
    "PerformanceProfile",
    "PerformanceTask",
    "ResultStatus",
    "UnknownMethodError",
    "WindowSummary",
    "apply_correction",
    "choice_table",
    "choose_method",
    "compare_performance",
    "estimate_performance",
    "fit_performance",
    "decide",
    "default_method",
    "fit_multivariate",
    "finite_or_none",
    "fit_profile",
    "get_method",
    "histogram_noise_floor",
    "normed_energy_noise_floor",
    "normed_wasserstein_noise_floor",
    "performance_metrics",
    "prepare_column",
    "summarise_column",
    "summarise_frame",
    "compare_column",
    "compare_prepared",
    "compare_mmd",
    "compare_pca_reconstruction",
]
