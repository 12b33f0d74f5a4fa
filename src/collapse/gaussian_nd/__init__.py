"""The Gaussian in d dimensions: Theorem 3.1 as stated, and the Collapse-or-Thrive grid
(book chapter ``book/gaussian_nd.md``).

Fit N(μ, Σ) to M points in d dimensions, draw M new points from the fit, refit, repeat: Σ_n → 0
almost surely while E[W2²] to the original distribution diverges (unbiased estimator).

Modules:

* :mod:`.family`: the two model families (exact Wishart sampler on sufficient statistics, naive
  sampler drawing every point), their data types and the loop metrics;
* :mod:`.theory`: exact theory (the Wishart law of log det Σ_n, expectations, W2² bounds, the
  pools of `accumulate` and `accumulate_subsample`) and the asymptotic spectrum;
* :mod:`.experiments`: every experiment of the chapter (:func:`run`) and its headline numbers
  (:func:`record_metrics`);
* :mod:`.summaries`: the chapter's text built from the runs;
* :mod:`.figures`: the chapter's figures;
* :mod:`.claims`: the claims' criteria (:func:`declare_claims`) and verdicts
  (:func:`evaluate_claims`).
"""
from . import theory
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims", "theory"]
