"""Settings of the error_sources chapter under each profile.

Exact-distribution runs (infinite data) are deterministic; seeds matter only for the
finite-M runs. kde_bandwidths must contain 1/sqrt(kde_sample_size) (h² = σ²/M).
"""
from .spec import Integer


PROFILES = {
    "smoke": {
        "seed": 20240725, "n_seeds": 200, "small_sample_size": 100,
        "large_sample_size": 1_000_000, "n_generations": 1000,
        "expressivity_generations": 50, "kde_sample_size": 100,
        "kde_bandwidths": [0.05, 0.1, 0.2], "kde_seeds": 200, "kde_generations": 600,
        "exact_kde_bandwidth": 0.1, "exact_kde_generations": 1000,
        "mix_fractions": [0.1, 0.5], "em_iterations": [0, 1, 2, 5], "em_generations": 100,
    },
    "book": {
        "seed": 20240725, "n_seeds": 1000, "small_sample_size": 100,
        "large_sample_size": 1_000_000, "n_generations": 1000,
        "expressivity_generations": 1000, "kde_sample_size": 100,
        "kde_bandwidths": [0.05, 0.1, 0.2], "kde_seeds": 1000, "kde_generations": 1000,
        "exact_kde_bandwidth": 0.1, "exact_kde_generations": 1000,
        "mix_fractions": [0.1, 0.5], "em_iterations": [0, 1, 2, 5], "em_generations": 1000,
    },
    "paper": {
        "seed": 20240725, "n_seeds": 10000, "small_sample_size": 100,
        "large_sample_size": 1_000_000, "n_generations": 5000,
        "expressivity_generations": 5000, "kde_sample_size": 100,
        "kde_bandwidths": [0.05, 0.1, 0.2], "kde_seeds": 5000, "kde_generations": 2000,
        "exact_kde_bandwidth": 0.1, "exact_kde_generations": 5000,
        "mix_fractions": [0.1, 0.5], "em_iterations": [0, 1, 2, 5], "em_generations": 5000,
    },
}

# What each overridable setting may be (checked before any cell runs; see spec.py)
SCHEMA = {
    "seed": Integer(minimum=0),
    "n_seeds": Integer(minimum=2),
    "n_generations": Integer(minimum=1),
    "kde_seeds": Integer(minimum=2),
    "kde_generations": Integer(minimum=1),
    "em_generations": Integer(minimum=1),
}
