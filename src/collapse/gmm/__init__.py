"""Gaussian mixtures: the tails go first, then the fit shrinks to a point (PAPER.md, "GMM";
the paper's GMM figure and the authors' GMM notebook).

A two-component ``GaussianMixture`` is refitted, generation after generation, to samples of
its own previous fit, through the shared loop (:mod:`collapse.core.loop`), with many seeds at
once. Modules:

* ``family``: the setups (true distributions), the point data type, the batched and the
  scikit-learn families, and :class:`~collapse.gmm.family.SeedGroups` (several data policies
  in one batch of seeds);
* ``batched_em``: the EM of scikit-learn's ``GaussianMixture`` batched over seeds (numpy);
* ``metrics``: what the loop records (fitted parameters, a snapshot fold) and the measures of
  a mixture (spread, tail masses);
* ``theory``: the closed-form L2² between mixtures, the exact one-component theory;
* ``experiments``: the chapter's runs (:func:`run`), the check against scikit-learn, the
  timing of the authors' loop, :func:`record_metrics`; ``policy_run`` for the escaping
  chapter;
* ``figures``: every figure and the text shown around them;
* ``claims``: :func:`declare_claims` and :func:`evaluate_claims`.
"""
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims"]
