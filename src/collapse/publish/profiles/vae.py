"""Settings of the vae chapter under each profile.

Two arms (collapse.vae.experiments): the long arm (the top-level architecture, capacity, epochs,
n_generations, n_seeds, policies; the escaping chapter reuses its chains) and the authors' arm
(authors_*: the authors' conv VAE under replace). Every arm uses the authors' loss (pixel BCE +
KL, kl_weight 1), Adam lr 1e-3, weight decay 1e-5, batch 256, fresh decoder samples for every
batch. pool_budget: the policies whose epoch is the whole training pool (accumulate: each real
image seen as often as in generation 0).

smoke: sklearn's 8x8 digits, tiny networks (seconds); book: the 10,000 real MNIST digits of the
data root (mnist-10k), budgets chosen by the generation-0 gate; paper: the authors' scale (full
MNIST when the data root has it, else the 10,000 digits), meant for a GPU.
"""

_COMMON = {"seed": 20240522, "latent_dim": 20, "batch_size": 256, "learning_rate": 1e-3,
           "weight_decay": 1e-5, "kl_weight": 1.0,
           "pool_budget": ["accumulate"], "grid_generations": [0, 5, 10, 20]}

PROFILES = {
    "smoke": {
        **_COMMON, "dataset": "digits", "held_out": 297, "device": "cpu",
        "architecture": "mlp", "capacity": 32, "epochs": 2, "n_generations": 5,
        "n_seeds": 2, "policies": ["replace", "mix_real(0.1)", "accumulate"],
        "authors_capacity": 4, "authors_epochs": 1, "authors_generations": 5,
        "authors_seeds": 2,
        "n_eval_samples": 100, "n_grid_images": 6, "n_jobs": 1,
    },
    "book": {
        **_COMMON, "dataset": "mnist-10k", "held_out": 2000, "device": "cpu",
        "architecture": "mlp", "capacity": 400, "epochs": 30, "n_generations": 20,
        "n_seeds": 3, "policies": ["replace", "mix_real(0.1)", "mix_real(0.5)", "accumulate"],
        "authors_capacity": 16, "authors_epochs": 30, "authors_generations": 5,
        "authors_seeds": 3,
        "n_eval_samples": 1000, "n_grid_images": 12, "n_jobs": 2,
    },
    "paper": {
        **_COMMON, "dataset": "mnist", "held_out": 2000, "device": "auto",
        "architecture": "conv", "capacity": 64, "epochs": 30, "n_generations": 20,
        "n_seeds": 5, "policies": ["replace", "mix_real(0.1)", "mix_real(0.5)", "accumulate"],
        "authors_capacity": 64, "authors_epochs": 30, "authors_generations": 5,
        "authors_seeds": 5,
        "n_eval_samples": 1000, "n_grid_images": 12, "n_jobs": 1,
    },
}
