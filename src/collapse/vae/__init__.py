"""Variational autoencoders trained on their own samples: the paper's VAE experiment
(Shumailov et al. 2024, the VAE figure: latent-means densities per generation and sample grids
at generations 0, 1, 5, 10 and 20; chapter ``book/vae.md``).

Modules:

* ``model``: the authors' convolutional VAE, its loss (the negative ELBO), its training;
* ``data``: the images (scikit-learn's 8x8 digits; MNIST from IDX files in the data root);
* ``family``: the VAE as a family of the generational loop, its datasets being samplers;
* ``evaluation``: the per-generation metrics against generation 0's encoder (latent spread,
  digit classes, Fréchet distance), carried as a loop fold;
* ``chains``: one chain's results and the summaries over seeds;
* ``experiments``: every chain of the chapter (``run``), the results-file numbers
  (``record_metrics``), the chapter's text, the chains artifact the escaping chapter reuses
  (``write_chains_artifact``, ``read_chains_artifact``) and ``policy_run``;
* ``figures``: every figure; ``claims``: every criterion and verdict.

The experiment protocol (:mod:`collapse.core.experiment`): ``declare_claims``, ``run``,
``record_metrics``, ``evaluate_claims``.
"""
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims"]
