"""What stops collapse: one comparison of data policies across model families
(book chapter ``book/escaping.md``; the follow-up literature's data policies — Gerstgrasser et
al., Kazdan et al., Bertrand et al. — on every family of the book, against the paper's 10%-real
setting).

Every family runs through its own ``policy_run`` (:class:`collapse.core.experiment.PolicyRunner`,
in ``collapse.<family>.experiments``) under `replace`, `accumulate`, `accumulate_subsample`,
`mix_real(f)` on a grid of f, and `growing` (M_n = M₀ (n + 1)), each measured by the family's
own drift measure divided by its generation-0 value: the Gaussian's W2² to the truth, the
discrete family's surviving support, the GMM's L2² to the truth, the VAE's latent spread. The
VAE chains the VAE chapter filed with the same settings are reused. Modules:

* :mod:`.comparison`: one family under every policy (:class:`~.comparison.FamilyComparison`:
  ratios to generation 0, the real fraction needed);
* :mod:`.theory`: the Gaussian under `mix_real(f)`, an exact linear recursion;
* :mod:`.experiments`: the one loop over families × policies (:func:`run`) and the headline
  numbers (:func:`record_metrics`);
* :mod:`.figures`, :mod:`.text`: the chapter's figures, tables and sentences;
* :mod:`.claims`: the claims' criteria (:func:`declare_claims`) and verdicts
  (:func:`evaluate_claims`).
"""
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims"]
