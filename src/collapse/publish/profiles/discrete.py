"""Settings of the discrete chapter under each profile.

absorption_distributions: name -> the real data's counts (M = their sum);
paper: the paper ran no discrete experiment; this profile is larger and uses the
WikiText-2 train split (not executed on these machines: only validation/test exist).
"""
from .spec import Integer


PROFILES = {
    "smoke": {
        "seed": 20240601,
        "absorption_distributions": {"two states": [10, 10], "three states": [12, 6, 2],
                                     "four states": [6, 3, 2, 1]},
        "absorption_chains": 2000,
        "absorption_generations": 200,
        "time_sample_sizes": [10, 20],
        "time_start_fractions": [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        "time_chains_per_start": 300,
        "diffusion_check_sample_sizes": [2, 4, 6, 8, 10, 14, 20, 50, 100],
        "zipf_states": 100,
        "zipf_sample_size": 500,
        "zipf_chains": 100,
        "zipf_generations": 60,
        "wikitext_split": "validation",
        "wikitext_chains": 2,
        "wikitext_generations": 12,
        "policy_chains": 2,
        "policy_generations": 12,
        "mix_fraction": 0.1,
    },
    "book": {
        "seed": 20240601,
        "absorption_distributions": {"two states": [10, 10], "three states": [12, 6, 2],
                                     "four states": [6, 3, 2, 1]},
        "absorption_chains": 10000,
        "absorption_generations": 300,
        "time_sample_sizes": [10, 20, 50],
        "time_start_fractions": [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        "time_chains_per_start": 2000,
        "diffusion_check_sample_sizes": [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 30, 50, 100,
                                         200, 500],
        "zipf_states": 100,
        "zipf_sample_size": 500,
        "zipf_chains": 1000,
        "zipf_generations": 300,
        "wikitext_split": "validation",
        "wikitext_chains": 8,
        "wikitext_generations": 1000,
        "policy_chains": 8,
        "policy_generations": 200,
        "mix_fraction": 0.1,
    },
    "paper": {
        "seed": 20240601,
        "absorption_distributions": {"two states": [10, 10], "three states": [12, 6, 2],
                                     "four states": [6, 3, 2, 1]},
        "absorption_chains": 100000,
        "absorption_generations": 300,
        "time_sample_sizes": [10, 20, 50, 100],
        "time_start_fractions": [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
                                 0.9],
        "time_chains_per_start": 10000,
        "diffusion_check_sample_sizes": [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 30, 50, 100,
                                         200, 500],
        "zipf_states": 1000,
        "zipf_sample_size": 10000,
        "zipf_chains": 1000,
        "zipf_generations": 2000,
        "wikitext_split": "train",
        "wikitext_chains": 32,
        "wikitext_generations": 5000,
        "policy_chains": 32,
        "policy_generations": 1000,
        "mix_fraction": 0.1,
    },
}

# What each overridable setting may be (checked before any cell runs; see spec.py)
SCHEMA = {
    "absorption_chains": Integer(minimum=2),
    "zipf_chains": Integer(minimum=2),
    "wikitext_chains": Integer(minimum=2),
    "wikitext_generations": Integer(minimum=1),
    "policy_chains": Integer(minimum=2),
    "policy_generations": Integer(minimum=1),
}
