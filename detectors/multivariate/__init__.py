"""Whole-row drift tests: MMD and PCA reconstruction error over a fitted reference.

Fit once with ``fit_multivariate`` (store ``profile.to_dict()``), then test
each window with ``compare_mmd`` and/or ``compare_pca_reconstruction``; both return
a ``ColumnResult`` whose ``column`` is ``"*"``.
"""

from detectors.multivariate.mmd import compare_mmd
from detectors.multivariate.pca import compare_pca_reconstruction
from detectors.multivariate.profile import MultivariateProfile, fit_multivariate

__all__ = ["MultivariateProfile", "fit_multivariate", "compare_mmd", "compare_pca_reconstruction"]
