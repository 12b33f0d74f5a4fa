"""Settings of the vae chapter under each profile.

book/smoke: sklearn's 8x8 digits; paper: MNIST with the authors' conv VAE (not executed
on the project's CPU machines). kl_weight 64/784 keeps the authors' ratio of KL to
per-pixel BCE terms on 64-pixel images; the authors' own loss (1.0) is the ablation.
"""
from .spec import Integer, Number


PROFILES = {
    "smoke": {
        "seed": 20240522, "dataset": "digits", "n_seeds": 2, "n_generations": 5,
        "policies": ["replace", "mix_real(0.1)", "accumulate"],
        "capacity": 4, "latent_dim": 20, "epochs": 1, "batch_size": 128,
        "learning_rate": 2e-3, "weight_decay": 1e-5, "kl_weight": 64 / 784,
        "device": "cpu", "n_eval_samples": 100, "n_grid_images": 6,
        "grid_generations": [0, 1, 5, 10, 20], "n_jobs": 1,
        "ablation_kl_weight": 1.0, "ablation_seeds": 1, "ablation_generations": 2,
    },
    "book": {
        "seed": 20240522, "dataset": "digits", "n_seeds": 3, "n_generations": 20,
        "policies": ["replace", "mix_real(0.1)", "accumulate"],
        "capacity": 16, "latent_dim": 20, "epochs": 12, "batch_size": 128,
        "learning_rate": 2e-3, "weight_decay": 1e-5, "kl_weight": 64 / 784,
        "device": "cpu", "n_eval_samples": 1000, "n_grid_images": 12,
        "grid_generations": [0, 1, 5, 10, 20], "n_jobs": 2,
        "ablation_kl_weight": 1.0, "ablation_seeds": 3, "ablation_generations": 5,
    },
    "paper": {
        "seed": 20240522, "dataset": "mnist", "n_seeds": 5, "n_generations": 20,
        "policies": ["replace", "mix_real(0.1)", "accumulate"],
        "capacity": 64, "latent_dim": 20, "epochs": 30, "batch_size": 256,
        "learning_rate": 1e-3, "weight_decay": 1e-5, "kl_weight": 1.0,
        "device": "auto", "n_eval_samples": 1000, "n_grid_images": 12,
        "grid_generations": [0, 1, 5, 10, 20], "n_jobs": 1,
        "ablation_kl_weight": 1.0, "ablation_seeds": 0, "ablation_generations": 5,
    },
}

# What each overridable setting may be (checked before any cell runs; see spec.py)
SCHEMA = {
    "seed": Integer(minimum=0),
    "n_seeds": Integer(minimum=1),
    "n_generations": Integer(minimum=1),
    "epochs": Integer(minimum=1),
    "kl_weight": Number(above=0),
    "n_jobs": Integer(minimum=1),
}
