"""Every chapter's settings under the three profiles, in one place (DESIGN.md, "Profiles").

* ``smoke``: seconds per chapter; used by the tests and the CI book build.
* ``book`` (default): what the published HTML shows; runs on a 2-core CPU.
* ``paper``: the authors' own scale; meant for a GPU machine with network access.

A chapter asks for its settings with ``settings("gaussian", profile, n_seeds=n_seeds, ...)``;
an override that is ``None`` keeps the profile's value, any other value replaces it.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

PROFILE_NAMES = ("smoke", "book", "paper")

# chapter -> profile -> setting -> value. Keep every profile of a chapter on the same keys.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    # ------------------------------------------------------------------ gaussian
    # The authors ran one seed per M; `paper` here means more seeds than `book` (it runs on
    # a CPU in minutes). Policies that need points use the naive sampler at smaller scale.
    "gaussian": {
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
    },
    # ------------------------------------------------------------------ discrete
    # absorption_distributions: name -> the real data's counts (M = their sum);
    # paper: the paper ran no discrete experiment; this profile is larger and uses the
    # WikiText-2 train split (not executed on these machines: only validation/test exist).
    "discrete": {
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
    },
    # ------------------------------------------------------------------ gmm
    "gmm": {
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
    },
    # ------------------------------------------------------------------ vae
    # book/smoke: sklearn's 8x8 digits; paper: MNIST with the authors' conv VAE (not executed
    # on the project's CPU machines). kl_weight 64/784 keeps the authors' ratio of KL to
    # per-pixel BCE terms on 64-pixel images; the authors' own loss (1.0) is the ablation.
    "vae": {
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
    },
    # ------------------------------------------------------------------ language_model
    # book/smoke: a small OPT pretrained from scratch on part of the WikiText-2 validation split
    # (the train split is not on these machines), then fine-tuned generation after generation;
    # paper: facebook/opt-125m on the full train split, 5 seeds (GPU + network; not run here).
    "language_model": {
        "smoke": {
            "seed": 20240724, "data_seed": 0, "n_seeds": 2,
            "backbone": "scratch", "vocab_size": 384,
            "model": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                      "ffn_dim": 64},
            "pretrain_epochs": 1, "pretrain_lr": 3e-3, "pretrain_batch_size": 32,
            "n_pretrain_blocks": 160, "train_split": "validation", "max_text_chars": 120_000,
            "pretrain_text": "detokenized",
            "n_finetune_blocks": 16, "n_selection_blocks": 8, "n_test_blocks": 16,
            "block_size": 64, "num_beams": 5, "repetition_penalty": 3.0,
            "prompt_source": "original", "lr": 1e-3, "eta_min": 1e-4, "batch_size": 8,
            "weight_decay": 0.01,
            "settings": {"no_real": {"epochs": 1, "real_fraction": 0.0},
                         "keep_10pct": {"epochs": 2, "real_fraction": 0.1}},
            "n_generations": 2, "histogram_generations": [0, 1, 2, 3, 5, 9],
            "ablation": {"n_finetune_blocks": 8, "n_generations": 1, "epochs": 1,
                         "variants": {"penalty 1.0": {"repetition_penalty": 1.0},
                                      "penalty 2.0": {"repetition_penalty": 2.0},
                                      "penalty 3.0": {"repetition_penalty": 3.0},
                                      "sampling T=1": {"do_sample": True, "temperature": 1.0,
                                                       "repetition_penalty": 1.0},
                                      "accumulate": {"policy": "accumulate"}}},
            "generation_batch_size": 32, "eval_batch_size": 64, "example_prompt_index": 0,
            "n_jobs": 1, "backend": "loky", "threads_per_job": 1,
        },
        "book": {
            "seed": 20240724, "data_seed": 0, "n_seeds": 2,
            "backbone": "scratch", "vocab_size": 2048,
            "model": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                      "ffn_dim": 512},
            "pretrain_epochs": 2, "pretrain_lr": 4e-3, "pretrain_batch_size": 16,
            "n_pretrain_blocks": None, "train_split": "validation", "max_text_chars": None,
            "pretrain_text": "detokenized",
            "n_finetune_blocks": 256, "n_selection_blocks": 64, "n_test_blocks": 384,
            "block_size": 64, "num_beams": 5, "repetition_penalty": 3.0,
            "prompt_source": "original", "lr": 1e-3, "eta_min": 1e-4, "batch_size": 32,
            "weight_decay": 0.01,
            "settings": {"no_real": {"epochs": 5, "real_fraction": 0.0},
                         "keep_10pct": {"epochs": 10, "real_fraction": 0.1}},
            "n_generations": 9, "histogram_generations": [0, 1, 2, 3, 5, 9],
            "ablation": {"n_finetune_blocks": 96, "n_generations": 5, "epochs": 5,
                         "variants": {"penalty 1.0": {"repetition_penalty": 1.0},
                                      "penalty 2.0": {"repetition_penalty": 2.0},
                                      "penalty 3.0": {"repetition_penalty": 3.0},
                                      "sampling T=1": {"do_sample": True, "temperature": 1.0,
                                                       "repetition_penalty": 1.0},
                                      "accumulate": {"policy": "accumulate"}}},
            "generation_batch_size": 32, "eval_batch_size": 64, "example_prompt_index": 0,
            "n_jobs": 2, "backend": "loky", "threads_per_job": 1,
        },
        "paper": {
            "seed": 20240724, "data_seed": 0, "n_seeds": 5,
            "backbone": "facebook/opt-125m", "vocab_size": None, "model": None,
            "pretrain_epochs": None, "pretrain_lr": None, "pretrain_batch_size": None,
            "n_pretrain_blocks": None, "train_split": "train", "max_text_chars": None,
            "pretrain_text": "raw",
            "n_finetune_blocks": None, "n_selection_blocks": None, "n_test_blocks": None,
            "block_size": 64, "num_beams": 5, "repetition_penalty": 3.0,
            "prompt_source": "original", "lr": 2e-5, "eta_min": 1e-6, "batch_size": 128,
            "weight_decay": 0.01,
            "settings": {"no_real": {"epochs": 5, "real_fraction": 0.0},
                         "keep_10pct": {"epochs": 10, "real_fraction": 0.1}},
            "n_generations": 9, "histogram_generations": [0, 1, 2, 3, 5, 9],
            "ablation": {"n_finetune_blocks": None, "n_generations": 5, "epochs": 5,
                         "variants": {"penalty 1.0": {"repetition_penalty": 1.0},
                                      "penalty 2.0": {"repetition_penalty": 2.0},
                                      "penalty 3.0": {"repetition_penalty": 3.0},
                                      "sampling T=1": {"do_sample": True, "temperature": 1.0,
                                                       "repetition_penalty": 1.0},
                                      "accumulate": {"policy": "accumulate"}}},
            "generation_batch_size": 64, "eval_batch_size": 16, "example_prompt_index": 0,
            "n_jobs": 1, "backend": "loky", "threads_per_job": 4,
        },
    },
    # ------------------------------------------------------------------ error_sources
    # Exact-distribution runs (infinite data) are deterministic; seeds matter only for the
    # finite-M runs. kde_bandwidths must contain 1/sqrt(kde_sample_size) (h² = σ²/M).
    "error_sources": {
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
    },
    # ------------------------------------------------------------------ escaping
    # One comparison of data policies across families. vae_overrides are applied on top of the
    # vae chapter's settings of the same profile (same model and training budget; paper: MNIST,
    # not executed here). With no overrides and vae_generations equal to the vae chapter's
    # n_generations, the vae chapter's chains (replace, mix_real(0.1), accumulate) are reused
    # from its results file and only the other policies run here, vae_seeds seeds each.
    "escaping": {
        "smoke": {
            "seed": 20240726, "tolerance": 0.1, "n_generations": 20,
            "fractions": [0.01, 0.1, 0.5, 1.0], "headline_fractions": [0, 0.01, 0.1, 0.5],
            "gaussian_sample_size": 100, "gaussian_seeds": 200,
            "discrete_states": 100, "discrete_sample_size": 500, "discrete_chains": 50,
            "gmm_points": 200, "gmm_seeds": 4, "gmm_pool_seeds": 2, "gmm_pool_generations": 8,
            "vae_generations": 5, "vae_seeds": 1, "vae_fractions": [0.1], "vae_jobs": 1,
            "vae_overrides": {},
        },
        "book": {
            "seed": 20240726, "tolerance": 0.1, "n_generations": 100,
            "fractions": [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0],
            "headline_fractions": [0, 0.01, 0.1, 0.5],
            "gaussian_sample_size": 100, "gaussian_seeds": 1000,
            "discrete_states": 100, "discrete_sample_size": 500, "discrete_chains": 100,
            "gmm_points": 1000, "gmm_seeds": 16, "gmm_pool_seeds": 6, "gmm_pool_generations": 40,
            "vae_generations": 20, "vae_seeds": 3, "vae_fractions": [0.01, 0.1, 0.5, 0.9],
            "vae_jobs": 2, "vae_overrides": {},
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
        },
    },
}


class Settings(dict):
    """A chapter's settings: a dict whose keys are also attributes (``settings.n_seeds``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def settings(chapter: str, profile: str = "book", **overrides: Any) -> Settings:
    """The settings of ``chapter`` under ``profile``, with non-None ``overrides`` applied.

    Raises ValueError naming the allowed values for an unknown chapter, profile or setting.
    The result also holds ``chapter`` and ``profile``.
    """
    if chapter not in PROFILES:
        raise ValueError(f"unknown chapter {chapter!r}; allowed: {', '.join(sorted(PROFILES))}")
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILE_NAMES)}")
    values: Mapping[str, Any] = PROFILES[chapter][profile]
    result = Settings(copy.deepcopy(dict(values)))
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in values:
            raise ValueError(f"unknown setting {name!r} for chapter {chapter!r}; allowed: "
                             f"{', '.join(sorted(values))}")
        result[name] = value
    result["chapter"], result["profile"] = chapter, profile
    return result
