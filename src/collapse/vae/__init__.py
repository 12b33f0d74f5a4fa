"""Variational autoencoders trained on their own samples: the paper's VAE experiment
(Shumailov et al. 2024; the authors' VAE notebook; arXiv 2305.17493v2, Figs. 8-9: latent-means
densities per generation and sample grids at generations 0, 5, 10 and 20; chapter
``book/vae.md``), on real 28x28 MNIST digits.

Modules:

* ``model``: the authors' convolutional VAE and a fully connected one, the loss (the negative
  ELBO), training, the held-out ELBO;
* ``data``: the images (MNIST from IDX files in the data root, sha256-checked; scikit-learn's
  8x8 digits for smoke runs) and the seeded train / held-out split;
* ``family``: the VAE as a family of the generational loop, its datasets being samplers;
* ``evaluation``: the digit classifier and the per-generation metrics against generation 0's
  encoder (latent spread, digit classes, Fréchet distance, held-out ELBO), carried as a fold;
* ``chains``: one chain's results and the summaries over seeds;
* ``experiments``: the two arms' chains and the gate's ladders (``run``), the results-file
  numbers (``record_metrics``), the chains artifact the escaping chapter reuses
  (``write_chains_artifact``, ``read_chains_artifact``) and ``policy_run``;
* ``text``: the chapter's computed prose; ``figures``: every figure; ``claims``: every
  criterion (the generation-0 gate included) and verdict.

The experiment protocol (:mod:`collapse.core.experiment`): ``declare_claims``, ``run``,
``record_metrics``, ``evaluate_claims``.
"""
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims"]
