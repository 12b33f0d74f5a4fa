"""Curated loops: when selecting synthetic data helps, and what it collapses to (book chapter
``book/curation.md``; an extension beyond Shumailov et al. with three later papers: Feng et al.
on verification, Ferbach et al. on best-of-K curation, Gillman et al. on self-correction).

Curation is a data policy of the shared loop, :class:`collapse.core.policies.Curated`: the base
policy's generated data are chosen by a family-independent selector (``KeepIf``, ``BestOfK``,
``Corrected``). Modules:

* :mod:`.family`: the noisy generative classifier of the verification experiment, the ring of
  Gaussians of the best-of-K experiment;
* :mod:`.curators`: the verifiers, the reward and the corrections handed to the selectors;
* :mod:`.theory`: the exact population theory of all three settings;
* :mod:`.experiments`: every run of the chapter (:func:`run`) and its headline numbers
  (:func:`record_metrics`); the best-of-K runs use the GMM family of :mod:`collapse.gmm`,
  the correction runs the Gaussian family of :mod:`collapse.gaussian`;
* :mod:`.figures`, :mod:`.text`: the chapter's figures and text cells;
* :mod:`.claims`: the criteria (:func:`declare_claims`) and verdicts (:func:`evaluate_claims`).
"""
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims"]
