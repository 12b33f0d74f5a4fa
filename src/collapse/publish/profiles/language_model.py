"""Settings of the language_model chapter under each profile.

book/smoke: a small OPT pretrained from scratch on part of the WikiText-2 validation split
(the train split is not on these machines), then fine-tuned generation after generation;
paper: facebook/opt-125m on the full train split, 5 seeds (GPU + network; not run here).
"""
from .spec import Choice, Integer, Number, Optional


PROFILES = {
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
}

# What each overridable setting may be (checked before any cell runs; see spec.py). The
# backends are joblib's own and "dask" (collapse.core.jobs: a Dask cluster; tests/test_reach.py).
SCHEMA = {
    "n_seeds": Integer(minimum=1),
    "n_generations": Integer(minimum=1),
    "n_finetune_blocks": Optional(Integer(minimum=1)),
    "repetition_penalty": Number(above=0),
    "prompt_source": Choice("original", "current"),
    "n_jobs": Integer(minimum=1),
    "backend": Choice("loky", "threading", "multiprocessing", "sequential", "dask"),
}
