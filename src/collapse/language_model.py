"""Recursive fine-tuning of an OPT language model on its own text (the paper's Figure 1).

Shumailov et al. (2024), "Language model": OPT-125m is fine-tuned on WikiText-2 cut into
64-token blocks (generation 0, "Real"). Every later generation starts again from the same
pretrained checkpoint and is fine-tuned on text written by the previous generation: for each
original training block, 5-beam search writes the next 64 tokens, and those tokens are the new
block (same dataset size). Two settings, 5 seeds each: (a) 5 epochs, no original data;
(b) 10 epochs, a random 10% of the original blocks drawn afresh each generation.

This module runs that experiment through :func:`collapse.loop.run_generations` with
:class:`LanguageModelFamily` (prompted generation via ``GenerationContext``), one joblib job per
(setting, seed) and per ablation, each checkpointed generation by generation under
``<cache>/language_model/runs/`` (resumable; a corrupt checkpoint is detected by its sha256
and recomputed). :mod:`collapse.lm_model` trains and generates, :mod:`collapse.lm_data` reads
and tokenizes the text, :mod:`collapse.lm_figures` draws the chapter's figures.

Scales (``profiles.PROFILES["language_model"]``): ``paper`` = facebook/opt-125m with its
tokenizer on the full WikiText-2 train split (needs a GPU and the network: not executed on the
machines that build the book); ``book``/``smoke`` = a small OPT trained from scratch on part of
the validation split ("pretraining", cached), then fine-tuned like OPT-125m in the paper.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import resource
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from . import data as data_module
from . import lm_data, lm_model
from .loop import (ArrayData, GenerationContext, History, PickleCheckpointer,
                   atomic_write_bytes, policy_from_name, run_generations)
from .results import results_dir

__all__ = [
    "cache_root", "prepare_base", "BaseInfo", "LMJob", "make_jobs", "LMState",
    "LanguageModelFamily", "LMCheckpointer", "run_job", "run_experiment", "LMRun",
    "PROMPT_SOURCES", "QUANTILES",
]

# transformers imports tqdm.auto, which warns in notebooks without ipywidgets; the chapter
# prints plain text only
warnings.filterwarnings("ignore", message="IProgress not found")

#: bump when a change of the code changes the numbers a checkpoint holds (invalidates caches)
CACHE_VERSION = 1


def _code_version() -> str:
    """CACHE_VERSION plus a digest of the code that computes the cached numbers (this module,
    the model and data modules, the shared loop): cached bases and generations are reused only
    by the code that made them."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(str(CACHE_VERSION).encode())
    for name in ("language_model.py", "lm_model.py", "lm_data.py", "loop.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]
PROMPT_SOURCES = ("original", "current")
#: quantiles of the per-sequence perplexity reported for every generation (5%, median, 95%, 99%)
QUANTILES = (0.05, 0.5, 0.95, 0.99)


def cache_root() -> Path:
    """Where the chapter keeps its base model and generation checkpoints:
    ``$COLLAPSE_CACHE_DIR`` when set, else ``cache/`` beside the results directory
    (``_build/cache`` by default; a test's temporary results directory gets its own)."""
    configured = os.environ.get("COLLAPSE_CACHE_DIR")
    return Path(configured) if configured else results_dir().parent / "cache"


def _digest(payload: Any, length: int = 16) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def quiet_transformers() -> None:
    """No progress bars or info messages from transformers (plain-text chapter output)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- the base model
BASE_KEYS = ("backbone", "vocab_size", "model", "pretrain_epochs", "pretrain_lr",
             "pretrain_batch_size", "n_pretrain_blocks", "train_split", "n_finetune_blocks",
             "n_selection_blocks", "n_test_blocks", "block_size", "data_seed", "max_text_chars",
             "eval_batch_size", "pretrain_text")


@dataclasses.dataclass(frozen=True)
class BaseInfo:
    """The cached starting point of every generation: directory, key and what it measured."""

    directory: str
    key: str
    info: dict

    @property
    def corpus_path(self) -> Path:
        return Path(self.directory) / "corpus.npz"


def _data_fingerprint(train_split: str) -> dict[str, str]:
    splits = {"test", "validation", train_split}
    return {split: data_module.sha256_of(data_module.wikitext_path(split))
            for split in sorted(splits)}


def prepare_base(settings: Mapping[str, Any], root: str | Path | None = None,
                 log: Callable[[str], None] | None = None) -> BaseInfo:
    """Build (or reuse from the cache) the tokenizer, block sets and base model.

    ``backbone == "scratch"`` (``book``/``smoke``): train a BPE tokenizer on the training text
    (the validation split), build a small OPT from ``settings["model"]`` and pretrain it on the
    validation blocks not used for fine-tuning or selection. Otherwise ``backbone`` names a
    pretrained checkpoint (``paper``: facebook/opt-125m) loaded with its own tokenizer.
    The result is stored in ``<root>/language_model/base-<key>/`` (key = hash of the settings
    that shape it and of the data files) with a sha256 manifest; a damaged entry is rebuilt.
    """
    quiet_transformers()
    root = Path(root) if root is not None else cache_root()
    fingerprint = _data_fingerprint(settings["train_split"])
    key = _digest({**{name: settings[name] for name in BASE_KEYS}, "data": fingerprint,
                   "version": _code_version()})
    directory = root / "language_model" / f"base-{key}"
    if lm_model.verify_manifest(directory):
        info = json.loads((directory / "info.json").read_text())
        return BaseInfo(str(directory), key, info)

    threads = torch.get_num_threads()
    torch.set_num_threads(settings["threads_per_job"])  # a shared machine: no thread thrashing
    try:
        return _build_base(settings, directory, key, fingerprint, log)
    finally:
        torch.set_num_threads(threads)


def _build_base(settings, directory: Path, key: str, fingerprint: dict, log) -> BaseInfo:
    lm_model.remove_directory(directory)
    building = directory.with_name(directory.name + ".building")
    lm_model.remove_directory(building)
    building.mkdir(parents=True)
    started = time.perf_counter()
    if settings["backbone"] == "scratch":
        text = data_module.read_wikitext(settings["train_split"])
        if settings["max_text_chars"] is not None:
            text = text[:settings["max_text_chars"]]
        if settings["pretrain_text"] == "detokenized":  # merges for both forms of the text
            text = text + lm_data.detokenize_wikitext(text)
        tokenizer = lm_data.train_bpe_tokenizer(text, settings["vocab_size"])
        model = None
    else:
        model, tokenizer = lm_model.pretrained_backbone(settings["backbone"])
    corpus = lm_data.split_blocks(
        tokenizer, train_split=settings["train_split"],
        n_finetune_blocks=settings["n_finetune_blocks"],
        n_selection_blocks=settings["n_selection_blocks"],
        n_pretrain_blocks=settings["n_pretrain_blocks"], n_test_blocks=settings["n_test_blocks"],
        block_size=settings["block_size"], data_seed=settings["data_seed"],
        max_text_chars=settings["max_text_chars"], pretrain_text=settings["pretrain_text"])
    device = lm_model.default_device()
    info: dict[str, Any] = {"backbone": settings["backbone"], "blocks": corpus.sizes(),
                            "vocab_size": len(tokenizer)}
    if model is None:
        model = lm_model.build_opt(tokenizer, max_position_embeddings=2 * settings["block_size"],
                                   seed=settings["data_seed"], **settings["model"]).to(device)
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
    model = model.to(device)
    info["parameters"] = lm_model.parameter_count(model)
    info["zero_shot_test_perplexity"] = lm_model.perplexity(
        model, corpus.test, settings["eval_batch_size"])
    info["zero_shot_selection_perplexity"] = lm_model.perplexity(
        model, corpus.selection, settings["eval_batch_size"])
    info["seconds"] = time.perf_counter() - started
    info["data_sha256"] = fingerprint
    model.save_pretrained(str(building))
    tokenizer.save_pretrained(str(building))
    corpus.save(building / "corpus.npz")
    (building / "info.json").write_text(json.dumps(info, indent=1))
    lm_model.write_manifest(building)
    os.replace(building, directory)
    return BaseInfo(str(directory), key, info)


_BASE_CACHE: dict[str, tuple] = {}


def load_base(directory: str | Path):
    """(tokenizer, corpus, base weights, model config) of a prepared base (memoised per process)."""
    directory = str(directory)
    if directory not in _BASE_CACHE:
        from transformers import AutoTokenizer

        if not lm_model.verify_manifest(directory):
            raise RuntimeError(f"base model directory {directory} is incomplete or corrupt; "
                               f"rerun prepare_base")
        model = lm_model.load_model(directory, torch.device("cpu"))
        tokenizer = AutoTokenizer.from_pretrained(directory)
        corpus = lm_data.LMCorpus.load(Path(directory) / "corpus.npz")
        _BASE_CACHE.clear()
        _BASE_CACHE[directory] = (tokenizer, corpus, lm_model.state_of(model), model.config)
    return _BASE_CACHE[directory]


# --------------------------------------------------------------------------- jobs
@dataclasses.dataclass(frozen=True)
class LMJob:
    """One independent run of the loop: a (setting, seed) pair or an ablation variant."""

    kind: str                      # "main" or "ablation"
    setting: str                   # e.g. "no_real", "keep_10pct", "penalty 2.0"
    seed_index: int
    seed: int
    policy: str                    # a collapse.loop policy name, e.g. "replace", "mix_real(0.1)"
    n_finetune_blocks: int
    n_generations: int
    training: lm_model.TrainingSettings
    decoding: lm_model.Decoding
    prompt_source: str
    base_directory: str
    base_key: str
    cache_directory: str
    generation_batch_size: int
    eval_batch_size: int
    example_prompt_index: int
    keep_sequences: bool           # keep every per-sequence perplexity (histograms)
    threads: int

    def key(self) -> str:
        """Hash of everything that shapes the run's numbers (not where it is stored)."""
        spec = dataclasses.asdict(self)
        for name in ("base_directory", "cache_directory", "threads", "kind", "setting",
                     "keep_sequences"):
            spec.pop(name)
        return _digest({**spec, "version": _code_version()})

    @property
    def checkpoint_directory(self) -> Path:
        return Path(self.cache_directory) / "language_model" / "runs" / \
            f"{self.setting.replace(' ', '_').replace('=', '')}-seed{self.seed_index}-{self.key()}"

    @property
    def label(self) -> str:
        return f"{self.setting} / seed {self.seed_index}"


def _check_choice(value, allowed, name):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")
    return value


def make_jobs(settings: Mapping[str, Any], base: BaseInfo,
              root: str | Path | None = None) -> list[LMJob]:
    """Every job of the chapter: settings × seeds, then the ablation variants (one seed)."""
    root = str(Path(root) if root is not None else cache_root())
    _check_choice(settings["prompt_source"], PROMPT_SOURCES, "prompt_source")
    n_seeds = settings["n_seeds"]
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, (int, np.integer)) or n_seeds < 1:
        raise ValueError(f"n_seeds must be an integer >= 1, got {n_seeds!r}")
    seeds = np.random.SeedSequence(settings["seed"]).generate_state(n_seeds)
    decoding = lm_model.Decoding(new_tokens=settings["block_size"],
                                 num_beams=settings["num_beams"],
                                 repetition_penalty=settings["repetition_penalty"])
    common = dict(prompt_source=settings["prompt_source"], base_directory=base.directory,
                  base_key=base.key, cache_directory=root,
                  generation_batch_size=settings["generation_batch_size"],
                  eval_batch_size=settings["eval_batch_size"],
                  example_prompt_index=settings["example_prompt_index"],
                  threads=settings["threads_per_job"])

    def training(epochs):
        return lm_model.TrainingSettings(epochs=epochs, lr=settings["lr"],
                                         eta_min=settings["eta_min"],
                                         batch_size=settings["batch_size"],
                                         weight_decay=settings["weight_decay"])

    jobs = []
    for name, setting in settings["settings"].items():
        policy = "replace" if setting["real_fraction"] == 0 else \
            f"mix_real({setting['real_fraction']:g})"
        policy_from_name(policy)  # validates the fraction
        for index in range(n_seeds):
            jobs.append(LMJob(kind="main", setting=name, seed_index=index, seed=int(seeds[index]),
                              policy=policy, n_finetune_blocks=settings["n_finetune_blocks"],
                              n_generations=settings["n_generations"],
                              training=training(setting["epochs"]), decoding=decoding,
                              keep_sequences=True, **common))
    ablation = settings["ablation"]
    for name, variant in ablation["variants"].items():
        variant_decoding = dataclasses.replace(
            decoding, repetition_penalty=variant.get("repetition_penalty",
                                                     decoding.repetition_penalty),
            do_sample=variant.get("do_sample", False),
            temperature=variant.get("temperature", 1.0))
        policy = variant.get("policy", "replace")
        policy_from_name(policy)
        jobs.append(LMJob(kind="ablation", setting=name, seed_index=0, seed=int(seeds[0]),
                          policy=policy, n_finetune_blocks=ablation["n_finetune_blocks"],
                          n_generations=ablation["n_generations"],
                          training=training(ablation["epochs"]), decoding=variant_decoding,
                          keep_sequences=False, **common))
    return jobs


# --------------------------------------------------------------------------- the family
@dataclasses.dataclass
class LMState:
    """A fitted generation: its weights (float32 numpy arrays) and how its fit went."""

    weights: dict[str, np.ndarray]
    info: dict


class LanguageModelFamily:
    """The language model as a :class:`collapse.loop.Family`.

    Data are arrays of token blocks, shape (n_blocks, block_size). ``fit`` starts from the base
    weights and fine-tunes (best epoch on the real held-out blocks); ``generate`` continues
    prompt blocks — the *original* training blocks (the paper's text, default) or the data the
    generating model was trained on (``prompt_source="current"``, the released script) — with
    the job's decoding and returns the new tokens as the next dataset. When fewer blocks than
    prompts are asked for (``mix_real``: the rest are real blocks), a random subset of the
    prompts is continued.
    """

    data_type = ArrayData(axis=0)

    def __init__(self, job: LMJob, log: Callable[[str], None] | None = None):
        self.job = job
        self.log = log
        tokenizer, corpus, base_weights, config = load_base(job.base_directory)
        self.tokenizer, self.corpus, self.base_weights = tokenizer, corpus, base_weights
        self.device = lm_model.default_device()
        from transformers import OPTForCausalLM

        self.module = OPTForCausalLM(config).to(self.device)
        self.scorer = OPTForCausalLM(config).to(self.device)
        self._loaded: LMState | None = None  # the LMState whose weights self.module holds
        self.last_generate_rate = float("nan")

    # -- loop protocol
    def fit(self, data: np.ndarray, rng: np.random.Generator) -> LMState:
        lm_model.load_state(self.module, self.base_weights)
        info = lm_model.fine_tune(self.module, np.asarray(data), self.corpus.selection,
                                  self.job.training, rng,
                                  eval_batch_size=self.job.eval_batch_size, log=self.log)
        state = LMState(lm_model.state_of(self.module), info)
        self._loaded = state
        return state

    def generate(self, model: LMState, n: int, rng: np.random.Generator,
                 context: GenerationContext) -> np.ndarray:
        prompts = context.real if self.job.prompt_source == "original" else context.previous
        prompts = np.asarray(prompts)
        if n > len(prompts):
            raise ValueError(f"asked for {n} blocks but there are only {len(prompts)} prompts")
        if n < len(prompts):
            prompts = prompts[np.sort(rng.choice(len(prompts), size=n, replace=False))]
        module = self.load(model)
        blocks, rate = lm_model.generate_continuations(module, prompts, self.job.decoding, rng,
                                                       self.job.generation_batch_size)
        self.last_generate_rate = rate
        return blocks

    # -- helpers
    def load(self, model: LMState):
        """The torch module holding ``model``'s weights."""
        if self._loaded is not model:
            lm_model.load_state(self.module, model.weights)
            self._loaded = model
        return self.module


class LMCheckpointer(PickleCheckpointer):
    """:class:`collapse.loop.PickleCheckpointer` (one pickle + sha256 per generation) that can
    also load one given generation, and only resumes when generation 0 — the scorer of the
    per-sequence perplexities — is intact too."""

    def load(self, generation: int) -> dict | None:
        """The verified state of ``generation``, or None when missing or corrupt."""
        import pickle

        path = self._path(generation)
        try:
            payload = path.read_bytes()
            expected = path.with_suffix(".sha256").read_text().strip()
        except OSError:
            return None
        if hashlib.sha256(payload).hexdigest() != expected:
            return None
        return pickle.loads(payload)

    def latest(self):
        found = super().latest()
        if found is None or found[0] == 0:
            return found
        return found if self.load(0) is not None else None


def job_metrics(family: LanguageModelFamily, checkpointer: LMCheckpointer,
                job: LMJob) -> dict[str, Callable]:
    """The per-generation metrics of one job, name -> f(model, data, generation)."""
    corpus, tokenizer = family.corpus, family.tokenizer
    original_words = lm_data.word_counts(
        lm_data.decode_blocks(tokenizer, corpus.finetune[:job.n_finetune_blocks]))
    example_prompt = corpus.test[job.example_prompt_index:job.example_prompt_index + 1]
    scored: dict[str, Any] = {"scorer_ready": False, "generation": None}

    def scorer(model: LMState, generation: int):
        """Generation 0's model (fitted to real data): scores every generation's data."""
        if generation == 0:
            lm_model.load_state(family.scorer, model.weights)
            scored["scorer_ready"] = True
        elif not scored["scorer_ready"]:  # resumed run: reload generation 0
            saved = checkpointer.load(0)
            if saved is None:
                raise RuntimeError(f"generation 0 checkpoint in {checkpointer.directory} "
                                   f"is missing or corrupt")
            lm_model.load_state(family.scorer, saved["model"].weights)
            scored["scorer_ready"] = True
        return family.scorer

    def sequences(model, data, generation) -> np.ndarray:
        if scored["generation"] != generation:
            scored["values"] = lm_model.sequence_perplexities(
                scorer(model, generation), np.asarray(data), job.eval_batch_size)
            scored["generation"] = generation
        return scored["values"]

    def example(model, data, generation):
        tokens, _ = lm_model.generate_continuations(
            family.load(model), example_prompt, job.decoding,
            np.random.default_rng([job.seed, generation]), 1)
        return tokens[0]

    def word_share(model, data, generation):
        produced = lm_data.word_counts(lm_data.decode_blocks(tokenizer, np.asarray(data)))
        return lm_data.word_type_share(original_words, produced)

    metrics: dict[str, Callable] = {
        "test_perplexity": lambda model, data, g: lm_model.perplexity(
            family.load(model), corpus.test, job.eval_batch_size),
        "selection_perplexity": lambda model, data, g: min(model.info["selection_perplexity"]),
        "best_epoch": lambda model, data, g: model.info["best_epoch"],
        "train_tokens_per_second": lambda model, data, g: model.info["tokens_per_second"],
        "generate_tokens_per_second":
            lambda model, data, g: np.nan if g == 0 else family.last_generate_rate,
        "sequence_perplexity_quantiles":
            lambda model, data, g: np.quantile(sequences(model, data, g), QUANTILES),
        "distinct_n": lambda model, data, g: np.array(
            [lm_data.distinct_n(np.asarray(data), n) for n in (1, 2, 3, 4)]),
        "sequence_repetition_4": lambda model, data, g: lm_data.sequence_repetition(
            np.asarray(data), 4),
        "word_type_share": word_share,
        "example": example,
    }
    if job.keep_sequences:  # same length every generation only under replace / mix_real
        metrics["sequence_perplexity"] = \
            lambda model, data, g: sequences(model, data, g).astype(np.float32)
    return metrics


# --------------------------------------------------------------------------- running jobs
def run_job(job: LMJob, interrupt_after: int | None = None) -> dict:
    """Run (or resume) one job's generations; returns its metrics as plain arrays.

    Sets torch to ``job.threads`` threads (restored afterwards). ``interrupt_after`` (tests
    only) raises ``KeyboardInterrupt`` once that generation is checkpointed.
    """
    quiet_transformers()
    threads = torch.get_num_threads()
    torch.set_num_threads(job.threads)
    started, cpu_started = time.perf_counter(), time.process_time()
    directory = job.checkpoint_directory
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "progress.log"

    def log(message: str) -> None:
        with open(log_path, "a") as stream:
            stream.write(f"{time.strftime('%H:%M:%S')} {job.label}: {message}\n")

    computed = [0]  # generations finished in this session (an interrupted one included)
    try:
        family = LanguageModelFamily(job, log)
        checkpointer = LMCheckpointer(directory)
        metrics = job_metrics(family, checkpointer, job)

        def progress(generation, total):
            computed[0] += 1
            log(f"generation {generation}/{total} done")
            if interrupt_after is not None and generation == interrupt_after:
                raise KeyboardInterrupt(f"interrupted after generation {generation}")

        real = family.corpus.finetune[:job.n_finetune_blocks]
        rng = np.random.default_rng(job.seed)
        history: History = run_generations(family, real, policy_from_name(job.policy),
                                           job.n_generations, rng, metrics,
                                           checkpointer=checkpointer, progress=progress)
    finally:
        torch.set_num_threads(threads)
        timing = _record_timing(directory, computed[0], time.perf_counter() - started,
                                time.process_time() - cpu_started)
    return {"job": job, "metrics": dict(history.metrics), "timing": timing,
            "sizes": history.sizes, "resumed_from": history.resumed_from,
            "seconds": time.perf_counter() - started, "peak_rss_mb": _peak_rss_mb(),
            "directory": str(directory)}


def _record_timing(directory: Path, computed: int, seconds: float,
                   cpu_seconds: float) -> dict | None:
    """Add this session's compute to ``timing.json`` in the job's checkpoint directory, so a
    run reused from its checkpoints still reports what computing it cost. Returns the totals
    (None when the checkpoints predate timing records and nothing was computed now)."""
    path = directory / "timing.json"
    try:
        timing = json.loads(path.read_text())
    except (OSError, ValueError):
        timing = None
    if computed > 0:
        timing = timing or {"seconds": 0.0, "cpu_seconds": 0.0, "generations": 0,
                            "peak_rss_mb": 0.0}
        timing["seconds"] += seconds
        timing["cpu_seconds"] += cpu_seconds
        timing["generations"] += computed
        timing["peak_rss_mb"] = max(timing["peak_rss_mb"], _peak_rss_mb())
        atomic_write_bytes(path, json.dumps(timing).encode())
    return timing


@dataclasses.dataclass
class LMRun:
    """Everything the chapter shows: the base, and each job's per-generation metrics."""

    settings: dict
    base: BaseInfo
    results: list[dict]
    seconds: float
    main_peak_rss_mb: float

    # -- selection
    def jobs(self, kind: str = "main", setting: str | None = None) -> list[dict]:
        chosen = [result for result in self.results if result["job"].kind == kind
                  and (setting is None or result["job"].setting == setting)]
        return sorted(chosen, key=lambda result: result["job"].seed_index)

    @property
    def setting_names(self) -> list[str]:
        return list(self.settings["settings"])

    @property
    def ablation_names(self) -> list[str]:
        return list(self.settings["ablation"]["variants"])

    def metric(self, name: str, setting: str, kind: str = "main") -> np.ndarray:
        """Metric ``name`` of every seed of ``setting``: shape (n_seeds, n_generations + 1, ...)."""
        return np.stack([result["metrics"][name] for result in self.jobs(kind, setting)])

    @property
    def generations(self) -> np.ndarray:
        return np.arange(self.settings["n_generations"] + 1)

    # -- derived quantities
    def perplexity_ratio(self, setting: str, kind: str = "main") -> np.ndarray:
        """Test perplexity over generation 0's, per seed: shape (n_seeds, n_generations + 1)."""
        values = self.metric("test_perplexity", setting, kind)
        return values / values[:, :1]

    def pooled_quantiles(self, setting: str) -> np.ndarray:
        """Quantiles (:data:`QUANTILES`) of the per-sequence perplexity of each generation's
        training data, pooled over seeds: shape (n_generations + 1, len(QUANTILES))."""
        values = self.metric("sequence_perplexity", setting)  # (seeds, generations, blocks)
        return np.quantile(np.moveaxis(values, 1, 0).reshape(values.shape[1], -1), QUANTILES,
                           axis=1).T

    def histogram_generations(self) -> list[int]:
        return [g for g in self.settings["histogram_generations"]
                if g <= self.settings["n_generations"]]

    def example_texts(self, setting: str, seed_index: int = 0) -> list[str]:
        """The example prompt's continuation by every generation of one run."""
        tokenizer = load_base(self.base.directory)[0]
        result = self.jobs("main", setting)[seed_index]
        return lm_data.decode_blocks(tokenizer, result["metrics"]["example"])

    def example_prompt(self) -> str:
        tokenizer, corpus = load_base(self.base.directory)[:2]
        index = self.settings["example_prompt_index"]
        return lm_data.decode_blocks(tokenizer, corpus.test[index:index + 1])[0]

    def throughput(self) -> dict[str, float]:
        """Median training and generation tokens/s over all jobs and generations."""
        train = np.concatenate([np.ravel(r["metrics"]["train_tokens_per_second"])
                                for r in self.results])
        generate = np.concatenate([np.ravel(r["metrics"]["generate_tokens_per_second"])
                                   for r in self.results])
        return {"train_tokens_per_second": float(np.nanmedian(train)),
                "generate_tokens_per_second": float(np.nanmedian(generate)),
                "pretrain_tokens_per_second": float(
                    self.base.info.get("pretrain_tokens_per_second", np.nan))}

    def job_seconds(self) -> float:
        """Sum of the jobs' wall times in this session (one thread each; inflated when the
        machine is shared, near zero when every job was reused from its checkpoints)."""
        return float(sum(result["seconds"] for result in self.results))

    def compute_cost(self) -> dict[str, float] | None:
        """What computing the checkpoints cost, summed over the jobs (every session that
        computed generations): wall seconds, CPU seconds, and the base's seconds. None when
        some checkpoints predate these records."""
        timings = [result.get("timing") for result in self.results]
        if any(timing is None for timing in timings):
            return None
        return {"job_seconds": sum(t["seconds"] for t in timings),
                "job_cpu_seconds": sum(t["cpu_seconds"] for t in timings),
                "base_seconds": float(self.base.info.get("seconds", 0.0)),
                "worker_peak_rss_mb": max(t["peak_rss_mb"] for t in timings)}

    def reused_jobs(self) -> int:
        """How many jobs were already complete in their checkpoints (nothing recomputed)."""
        return sum(result["resumed_from"] == result["job"].n_generations
                   for result in self.results)

    def summary(self) -> dict[str, Any]:
        """The chapter's headline numbers (claims and the results file read these).

        Per setting: mean test perplexity per generation, the generation-n / generation-0 ratio
        per seed at the last generation, the pooled per-sequence perplexity quantiles of
        generation 0 and of the last generation, and the share of rare (count 1) and frequent
        (count ≥ 64) original word types still produced at the last generation. Per ablation
        variant: the last-generation perplexity ratio.
        """
        last = self.settings["n_generations"]
        out: dict[str, Any] = {
            "zero_shot_test_perplexity": self.base.info["zero_shot_test_perplexity"],
            "settings": {}, "ablations": {}}
        for name in self.setting_names:
            perplexity = self.metric("test_perplexity", name)
            quantiles = self.pooled_quantiles(name)
            shares = self.metric("word_type_share", name)[:, last]  # (seeds, buckets)
            # the most frequent bucket holding any original type (≥ 64 in book/paper)
            frequent = int(np.flatnonzero(~np.isnan(shares).all(axis=0))[-1])
            out["settings"][name] = {
                "test_perplexity_mean": perplexity.mean(axis=0),
                "test_perplexity_per_seed": perplexity,
                "ratio_last_per_seed": perplexity[:, last] / perplexity[:, 0],
                "ratio_last_mean": float(np.mean(perplexity[:, last] / perplexity[:, 0])),
                "quantiles_generation_0": quantiles[0],
                "quantiles_last": quantiles[last],
                "rare_type_share_last": float(np.nanmean(shares[:, 0])),
                "frequent_type_share_last": float(np.nanmean(shares[:, frequent])),
                "frequent_bucket": lm_data.bucket_labels()[frequent],
            }
        for name in self.ablation_names:
            values = self.jobs("ablation", name)[0]["metrics"]["test_perplexity"]
            out["ablations"][name] = {"test_perplexity": values,
                                      "ratio_last": float(values[-1] / values[0])}
        return out

    def peak_memory_mb(self) -> float:
        """Main process + the largest worker × the number of parallel workers (an upper
        bound of the peak resident memory of the whole run)."""
        workers = max(result["peak_rss_mb"] for result in self.results)
        n_jobs = self.settings["n_jobs"]
        parallel = 1 if n_jobs == 1 else min(len(self.results),
                                             os.cpu_count() if n_jobs < 0 else n_jobs)
        return self.main_peak_rss_mb + (0 if n_jobs == 1 else parallel * workers)


def run_experiment(settings: Mapping[str, Any], root: str | Path | None = None,
                   log: Callable[[str], None] | None = print) -> LMRun:
    """Prepare the base, then run every job through joblib (``settings["backend"]``,
    ``settings["n_jobs"]`` workers; ``n_jobs=1`` runs them in this process). Finished
    generations are reused from the checkpoints."""
    from joblib import Parallel, delayed

    started = time.perf_counter()
    base = prepare_base(settings, root, log)
    if log:
        log(f"base model: {base.info['parameters']:,} parameters, zero-shot test perplexity "
            f"{base.info['zero_shot_test_perplexity']:.1f}; blocks {base.info['blocks']}")
    jobs = make_jobs(settings, base, root)
    # longest jobs first, so the parallel workers finish together
    order = sorted(jobs, key=lambda job: -(job.training.epochs * job.n_generations
                                           * job.n_finetune_blocks))
    results = []
    parallel = Parallel(n_jobs=settings["n_jobs"], backend=settings["backend"],
                        return_as="generator_unordered")
    for result in parallel(delayed(run_job)(job) for job in order):
        results.append(result)
        if log:
            resumed = "" if result["resumed_from"] is None else \
                f" (resumed after generation {result['resumed_from']})"
            log(f"[{len(results)}/{len(jobs)}] {result['job'].label}: "
                f"{result['seconds']:.0f} s{resumed}")
    return LMRun(settings=dict(settings), base=base, results=results,
                 seconds=time.perf_counter() - started, main_peak_rss_mb=_peak_rss_mb())
