"""Where the error comes from: the paper's three sources of error, switched on one at a time
(book chapter ``book/error_sources.md``; PAPER.md, "Theory": statistical approximation,
functional expressivity and functional approximation error — the paper names them but shows no
experiment that separates them).

Infinite data are represented exactly (a dataset is the distribution it was drawn from), so
the statistical error can be switched off; a family too small for the truth switches on the
expressivity error alone, an imperfect procedure (a kernel density estimate, EM stopped early)
the approximation error alone; then two sources together, where they add or cancel. Modules:

* :mod:`.family`: exact-distribution data (:class:`~.family.Mixture1D`), the exact families
  (moment-matched Gaussian, exact KDE, early-stopped population EM), the finite-sample KDE,
  the loop metrics;
* :mod:`.theory`: the KDE variance and mean recursions, the exact infinite-data KDE under each
  data policy, the expressivity error's W2² floor 2 − 2κ, W2 between 1-D mixtures;
* :mod:`.experiments`: every run of the chapter (:func:`run`) and its headline numbers
  (:func:`record_metrics`); the finite-data Gaussian runs come from :mod:`collapse.gaussian`;
* :mod:`.figures`, :mod:`.text`: the chapter's figures and text cells;
* :mod:`.claims`: the claims' criteria (:func:`declare_claims`) and verdicts
  (:func:`evaluate_claims`).
"""
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims"]
