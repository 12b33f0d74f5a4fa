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
  (``record_metrics``) and the chapter's text;
* ``figures``: every figure; ``claims``: every criterion and verdict.

The experiment protocol (:mod:`collapse.core.experiment`): ``declare_claims``, ``run``,
``record_metrics``, ``evaluate_claims``.
"""
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run

# Transitional: the escaping chapter (not yet moved) calls these as ``vae.<name>``.
from .chains import stack_metric  # noqa: E402
from .experiments import chain_label, run_experiment  # noqa: E402

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims", "chain_label",
           "run_experiment", "stack_metric"]
