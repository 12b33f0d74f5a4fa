"""Settings of the gaussian chapter under each profile.

The authors ran one seed per M; `paper` here means more seeds than `book` (it runs on
a CPU in minutes). Policies that need points use the naive sampler at smaller scale.
"""
from .spec import Integer, ListOf


PROFILES = {
    "smoke": {
        "seed": 20240724,
        "authors_sample_sizes": [100, 500, 1000, 10000],
        "authors_generations": 1000,
        "n_seeds": 200,
        "sample_sizes": [100, 1000],
        "n_generations": 5000,
        "start_sample_size": 100,
        "start_seeds": 200,
        "start_generations": 5000,
        "policy_sample_size": 100,
        "policy_seeds": 200,
        "policy_generations": 1000,
        "mix_fractions": [0.1, 0.5],
        "naive_policy_seeds": 50,
        "naive_policy_generations": 200,
        "subsample_seeds": 50,
        "subsample_generations": 50,
        "sampler_sample_size": 100,
        "sampler_seeds": 200,
        "sampler_generations": 20,
    },
    "book": {
        "seed": 20240724,
        "authors_sample_sizes": [100, 500, 1000, 10000],
        "authors_generations": 1000,
        "n_seeds": 1000,
        "sample_sizes": [100, 1000, 10000, 100000],
        "n_generations": 10000,
        "start_sample_size": 100,
        "start_seeds": 1000,
        "start_generations": 5000,
        "policy_sample_size": 100,
        "policy_seeds": 1000,
        "policy_generations": 1000,
        "mix_fractions": [0.1, 0.5],
        "naive_policy_seeds": 300,
        "naive_policy_generations": 1000,
        "subsample_seeds": 200,
        "subsample_generations": 200,
        "sampler_sample_size": 1000,
        "sampler_seeds": 500,
        "sampler_generations": 100,
    },
    "paper": {
        "seed": 20240724,
        "authors_sample_sizes": [100, 500, 1000, 10000],
        "authors_generations": 1000,
        "n_seeds": 10000,
        "sample_sizes": [100, 1000, 10000, 100000],
        "n_generations": 10000,
        "start_sample_size": 100,
        "start_seeds": 10000,
        "start_generations": 10000,
        "policy_sample_size": 100,
        "policy_seeds": 10000,
        "policy_generations": 1000,
        "mix_fractions": [0.1, 0.5],
        "naive_policy_seeds": 1000,
        "naive_policy_generations": 1000,
        "subsample_seeds": 1000,
        "subsample_generations": 500,
        "sampler_sample_size": 1000,
        "sampler_seeds": 2000,
        "sampler_generations": 200,
    },
}

# What each overridable setting may be (checked before any cell runs; see spec.py)
SCHEMA = {
    "seed": Integer(minimum=0),
    "n_seeds": Integer(minimum=2),
    "sample_sizes": ListOf(Integer(minimum=2), unique=True),
    "n_generations": Integer(minimum=1),
    "policy_sample_size": Integer(minimum=2),
    "naive_policy_seeds": Integer(minimum=2),
}
