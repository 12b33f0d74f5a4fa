"""Temporary alias of :mod:`collapse.gaussian.theory` (removed once error_sources, the last
module importing ``collapse.gaussian_theory``, has moved into its package)."""
from .gaussian.theory import *  # noqa: F401,F403
from .gaussian.theory import (ESTIMATORS, accumulate_expected_mean_error,  # noqa: F401
                              bimodal_start, log_variance_cdf, variance_quantiles)
