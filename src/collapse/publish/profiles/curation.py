"""Settings of the curation chapter under each profile.

Verification: d-dimensional two-class mixture, class means ±μ (‖μ‖ = ``mean_norm``), a
generator that flips labels with probability ``label_noise``; loops (``verification_loops``:
[kind, angle in degrees]) and one round at every ``sweep_angles``. Best-of-K: a ring of
``ring_modes`` Gaussians refitted by a GMM with as many components, reward
−(x₁ − reward_level)²/(2 reward_width²), ``choices`` K and ``real_fractions`` λ. Correction:
the 1-D Gaussian started at N(correction_offset, 1), corrected with strengths ``gammas``.
"""

from .spec import Integer

_COMMON = {
    "seed": 20240801,
    # verification (Feng et al.)
    "dims": 10, "mean_norm": 1.5, "label_noise": 0.2, "sample_size": 1000,
    "verification_loops": [["unfiltered", None], ["linear", 0], ["linear", 30], ["linear", 60],
                           ["linear", 90], ["independent", 60]],
    "sweep_angles": [float(angle) for angle in range(0, 181, 5)],
    # best-of-K (Ferbach et al.)
    "ring_modes": 8, "ring_radius": 4.0, "ring_sd": 0.5, "reward_level": 4.0,
    "reward_width": 1.0, "maximiser_band": 0.5, "choices": [2, 5, 10],
    "real_fractions": [0.0, 0.2], "ring_sample_size": 1000, "em_tol": 1e-3, "em_max_iter": 300,
    "grid_limit": 6.5, "simulation_grid": 65, "theory_grid": 260,
    "snapshot_generations": [0, 1, 3, 10],
    # self-correction (Gillman et al.)
    "correctors": ["projection", "mixture"], "gammas": [0.0, 0.03, 0.1, 0.3, 1.0, 3.0],
    "correction_offset": 1.0, "correction_sample_size": 50,
}

PROFILES = {
    "smoke": {**_COMMON, "n_seeds": 20, "n_generations": 10, "sweep_sample_size": 2000,
              "sweep_seeds": 10, "sweep_angles": [float(a) for a in range(0, 181, 15)],
              "ring_seeds": 4, "ring_generations": 6, "ring_sample_size": 500,
              "theory_grid": 130, "snapshot_generations": [0, 1, 3, 6],
              "correction_seeds": 200, "correction_generations": 40},
    "book": {**_COMMON, "n_seeds": 200, "n_generations": 30, "sweep_sample_size": 4000,
             "sweep_seeds": 40, "ring_seeds": 20, "ring_generations": 25,
             "snapshot_generations": [0, 1, 3, 10, 25],
             "correction_seeds": 1000, "correction_generations": 100},
    "paper": {**_COMMON, "n_seeds": 1000, "n_generations": 100, "sweep_sample_size": 20000,
              "sweep_seeds": 100, "ring_seeds": 50, "ring_generations": 50,
              "snapshot_generations": [0, 1, 3, 10, 50],
              "correction_seeds": 10000, "correction_generations": 500},
}

# What each overridable setting may be (checked before any cell runs; see spec.py).
SCHEMA = {
    "seed": Integer(minimum=0),
    "n_seeds": Integer(minimum=2),
    "n_generations": Integer(minimum=1),
    "ring_seeds": Integer(minimum=2),
    "ring_generations": Integer(minimum=1),
    "correction_seeds": Integer(minimum=2),
}
