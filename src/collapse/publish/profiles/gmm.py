"""Settings of the gmm chapter under each profile."""
from .spec import Integer, ListOf, Number, PolicyName, Record


PROFILES = {
    "smoke": {
        "seed": 20240724, "n_points": 1000, "n_seeds": 2, "n_generations": 30,
        "snapshot_generations": [0, 50, 100, 150, 200, 350, 2000],
        "record_generations": [50, 200, 2000],
        "setups": ["one_blob", "two_gaussians"],
        "policies": ["replace", "accumulate_subsample", "mix_real(0.1)"],
        "accumulate_generations": 6, "accumulate_seeds": 2,
        "sample_size_runs": [{"n_points": 500, "n_seeds": 2, "n_generations": 30},
                             {"n_points": 10000, "n_seeds": 2, "n_generations": 4}],
        "tail_levels": [0.95, 0.99], "tail_samples": 2000, "tail_evaluations": 6,
        "authors_generations": 6, "timing_seeds": 4, "validation_seeds": 2,
        "n_jobs": 1,
    },
    "book": {
        "seed": 20240724, "n_points": 1000, "n_seeds": 8, "n_generations": 2050,
        "snapshot_generations": [0, 50, 100, 150, 200, 350, 2000],
        "record_generations": [50, 200, 2000],
        "setups": ["one_blob", "two_gaussians"],
        "policies": ["replace", "accumulate_subsample", "mix_real(0.1)"],
        "accumulate_generations": 40, "accumulate_seeds": 4,
        "sample_size_runs": [{"n_points": 500, "n_seeds": 4, "n_generations": 2050},
                             {"n_points": 10000, "n_seeds": 3, "n_generations": 150}],
        "tail_levels": [0.95, 0.99], "tail_samples": 10000, "tail_evaluations": 40,
        "authors_generations": 100, "timing_seeds": 8, "validation_seeds": 8,
        "n_jobs": 2,
    },
    "paper": {
        "seed": 20240724, "n_points": 1000, "n_seeds": 32, "n_generations": 2050,
        "snapshot_generations": [0, 50, 100, 150, 200, 350, 2000],
        "record_generations": [50, 200, 2000],
        "setups": ["one_blob", "two_gaussians"],
        "policies": ["replace", "accumulate_subsample", "mix_real(0.1)"],
        "accumulate_generations": 200, "accumulate_seeds": 8,
        "sample_size_runs": [{"n_points": 500, "n_seeds": 32, "n_generations": 2050},
                             {"n_points": 10000, "n_seeds": 16, "n_generations": 2050}],
        "tail_levels": [0.95, 0.99], "tail_samples": 100000, "tail_evaluations": 60,
        "authors_generations": 2050, "timing_seeds": 32, "validation_seeds": 32,
        "n_jobs": 2,
    },
}

# What each overridable setting may be (checked before any cell runs; see spec.py). A fit of
# two full-covariance components in 2-D needs a handful of points: N >= 10.
SCHEMA = {
    "seed": Integer(minimum=0),
    "n_seeds": Integer(minimum=1),
    "n_points": Integer(minimum=10),
    "n_generations": Integer(minimum=1),
    "policies": ListOf(PolicyName(), unique=True),
    "sample_size_runs": ListOf(Record({"n_points": Integer(minimum=10),
                                       "n_seeds": Integer(minimum=1),
                                       "n_generations": Integer(minimum=1)}), min_length=0),
    "tail_samples": Integer(minimum=100),
    "tail_levels": ListOf(Number(above=0, below=1), unique=True),
    "n_jobs": Integer(minimum=1),
}
