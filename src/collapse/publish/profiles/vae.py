"""Settings of the vae chapter under each profile.

Two arms (collapse.vae.experiments): the long arm (the top-level architecture, capacity, epochs,
n_generations, n_seeds, policies; the escaping chapter reuses its chains) and the authors' arm
(authors_*: the authors' conv VAE under replace). Every arm uses the authors' loss (pixel BCE +
KL, kl_weight 1) and Adam with weight decay 1e-5, fresh decoder samples for every batch.
pool_budget: the policies whose epoch is the whole training pool (accumulate: each real image
seen as often as in generation 0). The policies other than replace run mitigation_generations
generations.

smoke: sklearn's 8x8 digits, tiny networks (seconds).
book: the 10,000 real MNIST digits of the data root (mnist-10k). Budgets from the gate's
  ladders (generation 0 only, before any collapse curve): with the authors' batch 256 and
  lr 1e-3 neither network passes the gate within 30 epochs of the 8,000 training digits
  (held-out ELBO still ~5% better after doubling); with batch 64 and lr 3e-3 the conv VAE of
  capacity 16 passes at 11 epochs and the fully connected 784-400-20 VAE at 11 epochs
  (~5,400 and ~7,200 training images per CPU second). Capacity 16: the authors' 64 trains
  at ~700 images/s, too slow for three seeds here.
paper: the authors' scale and optimiser (full MNIST when the data root has it, else the 10,000
  digits), meant for a GPU.
"""
from .spec import Integer, Number


_COMMON = {"seed": 20240522, "latent_dim": 20, "weight_decay": 1e-5, "kl_weight": 1.0,
           "pool_budget": ["accumulate"], "grid_generations": [0, 5, 10, 20]}

PROFILES = {
    "smoke": {
        **_COMMON, "dataset": "digits", "held_out": 297, "device": "cpu",
        "batch_size": 64, "learning_rate": 3e-3,
        "architecture": "mlp", "capacity": 32, "epochs": 2, "n_generations": 5,
        "n_seeds": 2, "policies": ["replace", "mix_real(0.1)", "accumulate"],
        "mitigation_generations": 3,
        "authors_capacity": 4, "authors_epochs": 1, "authors_generations": 5,
        "authors_seeds": 2,
        "n_eval_samples": 100, "n_grid_images": 6, "n_jobs": 1,
    },
    "book": {
        **_COMMON, "dataset": "mnist-10k", "held_out": 2000, "device": "cpu",
        "batch_size": 64, "learning_rate": 3e-3,
        "architecture": "mlp", "capacity": 400, "epochs": 11, "n_generations": 20,
        "n_seeds": 3, "policies": ["replace", "mix_real(0.1)", "mix_real(0.5)", "accumulate"],
        "mitigation_generations": 5,
        "authors_capacity": 16, "authors_epochs": 11, "authors_generations": 5,
        "authors_seeds": 3,
        "n_eval_samples": 1000, "n_grid_images": 12, "n_jobs": 2,
    },
    "paper": {
        **_COMMON, "dataset": "mnist", "held_out": 2000, "device": "auto",
        "batch_size": 256, "learning_rate": 1e-3,
        "architecture": "conv", "capacity": 64, "epochs": 30, "n_generations": 20,
        "n_seeds": 5, "policies": ["replace", "mix_real(0.1)", "mix_real(0.5)", "accumulate"],
        "mitigation_generations": 10,
        "authors_capacity": 64, "authors_epochs": 30, "authors_generations": 5,
        "authors_seeds": 5,
        "n_eval_samples": 1000, "n_grid_images": 12, "n_jobs": 1,
    },
}

# What each overridable setting may be (checked before any cell runs; see spec.py)
SCHEMA = {
    "seed": Integer(minimum=0),
    "n_seeds": Integer(minimum=1),
    "n_generations": Integer(minimum=1),
    "epochs": Integer(minimum=1),
    "authors_seeds": Integer(minimum=1),
    "authors_epochs": Integer(minimum=1),
    "kl_weight": Number(above=0),
    "n_jobs": Integer(minimum=1),
}
