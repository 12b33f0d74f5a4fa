"""Settings of the escaping chapter under each profile.

One comparison of data policies across families. vae_overrides are applied on top of the
vae chapter's settings of the same profile (paper: MNIST, not executed here). Under book the
VAE chapter trains on 28x28 MNIST at a budget set by its generation-0 gate (~13 CPU s per
generation), too slow for this chapter's eight policies x 20 generations; the book overrides
keep this chapter's VAE on the 8x8 digits with the VAE chapter's former book settings
(convolutional VAE of capacity 16, 12 epochs, KL weight 64/784, a fixed budget for
accumulate), so its chains run here rather than being reused. Otherwise (smoke) the vae
chapter's chains (replace, mix_real(0.1), accumulate) are reused from the chains artifact it
writes (<results>/artifacts/vae-chains-<key>.npz) when its key (chain settings and code)
matches; the other policies run here, vae_seeds seeds each.
vae_jobs: worker processes for all of this chapter's runs.
language_model_*: the small language model of the language_model chapter (same profile) under
replace, accumulate, accumulate_subsample, growing and mix_real(f) for its fractions,
temperature-1 sampling, at that chapter's decoding-comparison scale; its replace and accumulate
chains of seed 0 are that chapter's, reused from the shared checkpoint cache.
"""
from .spec import Integer


PROFILES = {
    "smoke": {
        "seed": 20240726, "tolerance": 0.1, "n_generations": 20,
        "fractions": [0.01, 0.1, 0.5, 1.0], "headline_fractions": [0, 0.01, 0.1, 0.5],
        "gaussian_sample_size": 100, "gaussian_seeds": 200,
        "discrete_states": 100, "discrete_sample_size": 500, "discrete_chains": 50,
        "gmm_points": 200, "gmm_seeds": 4, "gmm_pool_seeds": 2, "gmm_pool_generations": 8,
        "vae_generations": 5, "vae_seeds": 1, "vae_fractions": [0.1], "vae_jobs": 1,
        "vae_overrides": {},
        "language_model_seeds": 1, "language_model_generations": 1,
        "language_model_fractions": [0.1],
    },
    "book": {
        "seed": 20240726, "tolerance": 0.1, "n_generations": 100,
        "fractions": [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0],
        "headline_fractions": [0, 0.01, 0.1, 0.5],
        "gaussian_sample_size": 100, "gaussian_seeds": 1000,
        "discrete_states": 100, "discrete_sample_size": 500, "discrete_chains": 100,
        "gmm_points": 1000, "gmm_seeds": 16, "gmm_pool_seeds": 6, "gmm_pool_generations": 40,
        "vae_generations": 20, "vae_seeds": 3, "vae_fractions": [0.01, 0.1, 0.5, 0.9],
        "vae_jobs": 2, "vae_overrides": {
            "dataset": "digits", "held_out": 297, "architecture": "conv", "capacity": 16,
            "epochs": 12, "batch_size": 128, "learning_rate": 2e-3, "kl_weight": 64 / 784,
            "pool_budget": []},
        "language_model_seeds": 2, "language_model_generations": 3,
        "language_model_fractions": [0.1, 0.5],
    },
    "paper": {
        "seed": 20240726, "tolerance": 0.1, "n_generations": 100,
        "fractions": [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95,
                      0.98, 1.0],
        "headline_fractions": [0, 0.01, 0.1, 0.5],
        "gaussian_sample_size": 100, "gaussian_seeds": 10000,
        "discrete_states": 100, "discrete_sample_size": 500, "discrete_chains": 1000,
        "gmm_points": 1000, "gmm_seeds": 32, "gmm_pool_seeds": 16,
        "gmm_pool_generations": 100,
        "vae_generations": 20, "vae_seeds": 5, "vae_fractions": [0.01, 0.1, 0.2, 0.5, 0.9],
        "vae_jobs": 1, "vae_overrides": {},
        "language_model_seeds": 5, "language_model_generations": 5,
        "language_model_fractions": [0.1, 0.5],
    },
}

# What each overridable setting may be (checked before any cell runs; see spec.py)
SCHEMA = {
    "seed": Integer(minimum=0),
    "n_generations": Integer(minimum=1),
    "gaussian_seeds": Integer(minimum=2),
    "gmm_seeds": Integer(minimum=1),
    "vae_seeds": Integer(minimum=1),
    "vae_jobs": Integer(minimum=1),
}
