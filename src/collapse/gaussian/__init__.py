"""The 1-D Gaussian recursion: the paper's Theorem 3.1 and its 1-D Gaussian figure
(book chapter ``book/gaussian.md``).

Fit N(μ, σ²) to M points, draw M new points from the fit, refit, repeat: the fitted σ_n → 0
almost surely while E[W2²] to the original distribution diverges (unbiased estimator).

Modules:

* :mod:`.family`: the two model families (exact sufficient-statistics sampler, naive sampler
  drawing every point), their data types, the loop metrics and generation 0's data;
* :mod:`.theory`: exact theory (moments, the distribution of σ_n, W2², non-Gaussian D_0,
  `accumulate`);
* :mod:`.trajectories`: runs through the shared loop kept as fitted parameters;
* :mod:`.experiments`: every experiment of the chapter (:func:`run`) and its headline
  numbers (:func:`record_metrics`); ``policy_run`` for the escaping chapter;
* :mod:`.summaries`: derived quantities and the chapter's text;
* :mod:`.figures`: the chapter's figures;
* :mod:`.claims`: the claims' criteria (:func:`declare_claims`) and verdicts
  (:func:`evaluate_claims`).
"""
from . import theory
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run, start_distribution_runs
from .family import (PARAMETER_METRICS, ExactGaussian, GaussianFit, GaussianStats,
                     NaiveGaussian, PointSamples, SufficientStatistics, true_data)
from .trajectories import Trajectories, recorded_generations, simulate

__all__ = [
    "declare_claims", "run", "record_metrics", "evaluate_claims",
    # the family's models, data and runs, as collapse.gaussian.NAME
    "ExactGaussian", "GaussianFit", "GaussianStats", "NaiveGaussian", "PointSamples",
    "SufficientStatistics", "PARAMETER_METRICS", "Trajectories", "recorded_generations",
    "simulate", "start_distribution_runs", "theory", "true_data",
]
