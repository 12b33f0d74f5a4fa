"""Settings of the gaussian_nd chapter under each profile.

The grid is Kazdan et al.'s own ("Collapse or Thrive?", their released sweep): d ∈ {1, 3, 10,
31, 100} × M ∈ {10, 32, 100, 316, 1000}, 100 model-fitting iterations (generations 0 … 99),
100 seeds, ML covariance, in `book` as in `paper`; `paper` adds seeds to the theorem runs.
"""

from .spec import Integer

_GRID = {
    "grid_dims": [1, 3, 10, 31, 100],
    "grid_sample_sizes": [10, 32, 100, 316, 1000],
    "grid_seeds": 100,
    "grid_generations": 99,
    "grid_estimator": "ml",
}

PROFILES = {
    "smoke": {
        "seed": 20241021,
        "theorem_dim": 4,
        "theorem_sample_size": 20,
        "theorem_seeds": 300,
        "theorem_generations": 200,
        "sampler_dim": 4,
        "sampler_sample_size": 200,
        "sampler_seeds": 100,
        "sampler_generations": 10,
        "grid_dims": [1, 3, 10],
        "grid_sample_sizes": [10, 32, 100],
        "grid_seeds": 40,
        "grid_generations": 30,
        "grid_estimator": "ml",
        "n_jobs": 1,
    },
    "book": {
        "seed": 20241021,
        "theorem_dim": 10,
        "theorem_sample_size": 100,
        "theorem_seeds": 1000,
        "theorem_generations": 1000,
        "sampler_dim": 10,
        "sampler_sample_size": 1000,
        "sampler_seeds": 200,
        "sampler_generations": 20,
        **_GRID,
        "n_jobs": 2,
    },
    "paper": {
        "seed": 20241021,
        "theorem_dim": 10,
        "theorem_sample_size": 100,
        "theorem_seeds": 5000,
        "theorem_generations": 1000,
        "sampler_dim": 10,
        "sampler_sample_size": 1000,
        "sampler_seeds": 1000,
        "sampler_generations": 20,
        **_GRID,
        "n_jobs": 2,
    },
}

# What each overridable setting may be (checked before any cell runs; see spec.py).
SCHEMA = {
    "seed": Integer(minimum=0),
    "theorem_seeds": Integer(minimum=2),
    "grid_seeds": Integer(minimum=2),
    "n_jobs": Integer(minimum=1),
}
