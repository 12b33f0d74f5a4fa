"""Discrete distributions: collapse as absorption (book/discrete.md; PAPER.md, Theory 1 —
the paper's "discrete distributions with exact approximation", an argument without a figure).

A categorical model fitted exactly (its empirical frequencies) to M samples of itself is
neutral Wright–Fisher drift: absorbed in a delta function with probability 1, on state k with
probability q_k, the rare states lost first. Modules:

* ``family``: count-vector data, the exact categorical fit, per-generation metrics;
* ``wright_fisher``: the exact and approximate theory (transition matrices, absorption and
  loss times, the Galton–Watson limit, Gini–Simpson decay);
* ``chains``: the simulated chains (absorption, two-state times, a Zipf tail);
* ``words``: the real-text experiment (WikiText-2 unigrams under each data policy);
* ``experiments``: :func:`run` (everything the chapter simulates), :func:`record_metrics`;
  ``policy_run`` for the escaping chapter;
* ``figures``, ``text``: the chapter's figures, tables and sentences;
* ``claims``: :func:`declare_claims`, :func:`evaluate_claims`.
"""
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims"]
