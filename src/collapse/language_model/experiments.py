"""Recursive fine-tuning of an OPT language model on its own text (the paper's Figure 1):
the orchestration.

Shumailov et al. (2024), "Language model": OPT-125m is fine-tuned on WikiText-2 cut into
64-token blocks (generation 0, "Real"). Every later generation starts again from the same
pretrained checkpoint and is fine-tuned on text written by the previous generation: for each
original training block, 5-beam search writes the next 64 tokens, and those tokens are the new
block (same dataset size). Two settings, 5 seeds each: (a) 5 epochs, no original data;
(b) 10 epochs, a random 10% of the original blocks drawn afresh each generation.

:func:`prepare_base` builds (or reuses) the tokenizer, block sets and base model; every
(setting, seed) pair and every ablation variant is an :class:`LMJob`, run by :func:`run_job`
through :func:`collapse.core.loop.run_generations` with
:class:`~collapse.language_model.family.LanguageModelFamily` and checkpointed generation by
generation under ``<cache>/language_model/runs/`` (resumable; a corrupt checkpoint is detected
by its sha256 and recomputed). :func:`run` runs them all through
:func:`collapse.core.jobs.run_jobs` and returns an
:class:`~collapse.language_model.runs.LMRun`.

Scales (``collapse.publish.profiles.PROFILES["language_model"]``): ``paper`` =
facebook/opt-125m with its tokenizer on the full WikiText-2 train split (needs a GPU and the
network: not executed on the machines that build the book); ``book``/``smoke`` = a small OPT
trained from scratch on part of the validation split ("pretraining", cached), then fine-tuned
like OPT-125m in the paper.
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

from ..core.checks import check_sample_size
from ..core.data import read_wikitext, wikitext_path
from ..core.io import atomic_write_bytes, sha256_of
from ..core.jobs import pinned_threads, run_jobs
from ..core.loop import run_generations
from ..core.policies import policy_from_name
from ..core.seeds import integer_seeds
from ..publish.records import results_dir
from . import data as lm_data
from . import model as lm_model
from .family import PROMPT_SOURCES, LanguageModelFamily, LMCheckpointer, ScoredByGenerationZero
from .runs import QUANTILES, LMRun

__all__ = ["cache_root", "prepare_base", "BaseInfo", "LMJob", "make_jobs", "family_for",
           "job_metrics", "scored_metrics", "run_job", "run_experiment", "run", "record_metrics"]

# transformers imports tqdm.auto, which warns in notebooks without ipywidgets; the chapter
# prints plain text only
warnings.filterwarnings("ignore", message="IProgress not found")

#: bump when a change of the code changes the numbers a checkpoint holds (invalidates caches)
CACHE_VERSION = 1
#: the code that computes the cached numbers: this package's data, model, family and
#: orchestration, and the core loop and data policies
CODE_FILES = ("language_model/data.py", "language_model/model.py", "language_model/family.py",
              "language_model/experiments.py", "core/loop.py", "core/policies.py")


def _code_version() -> str:
    """CACHE_VERSION plus a digest of :data:`CODE_FILES`: cached bases and generations are
    reused only by the code that made them."""
    package = Path(__file__).resolve().parents[1]  # src/collapse
    digest = hashlib.sha256(str(CACHE_VERSION).encode())
    for name in CODE_FILES:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    """Where the chapter keeps its base model and generation checkpoints:
    ``$COLLAPSE_CACHE_DIR`` when set, else ``cache/`` beside the results directory
    (``_build/cache`` by default; a test's temporary results directory gets its own)."""
    configured = os.environ.get("COLLAPSE_CACHE_DIR")
    return Path(configured) if configured else results_dir().parent / "cache"


def _digest(payload: Any, length: int = 16) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def quiet_transformers() -> None:
    """No progress bars or info messages from transformers (plain-text chapter output)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


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
    return {split: sha256_of(wikitext_path(split)) for split in sorted(splits)}


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

    with pinned_threads(settings["threads_per_job"]):  # a shared machine: no thread thrashing
        return _build_base(settings, directory, key, fingerprint, log)


def _build_base(settings, directory: Path, key: str, fingerprint: dict, log) -> BaseInfo:
    lm_model.remove_directory(directory)
    building = directory.with_name(directory.name + ".building")
    lm_model.remove_directory(building)
    building.mkdir(parents=True)
    started = time.perf_counter()
    if settings["backbone"] == "scratch":
        text = read_wikitext(settings["train_split"])
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


# --------------------------------------------------------------------------- jobs
@dataclasses.dataclass(frozen=True)
class LMJob:
    """One independent run of the loop: a (setting, seed) pair or an ablation variant."""

    kind: str                      # "main" or "ablation"
    setting: str                   # e.g. "no_real", "keep_10pct", "penalty 2.0"
    seed_index: int
    seed: int
    policy: str                    # a data policy name, e.g. "replace", "mix_real(0.1)"
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

    def key(self) -> str:
        """Hash of everything that shapes the run's numbers (not where it is stored)."""
        spec = dataclasses.asdict(self)
        for name in ("base_directory", "cache_directory", "kind", "setting", "keep_sequences"):
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
    n_seeds = check_sample_size(settings["n_seeds"], "n_seeds", minimum=1)
    seeds = integer_seeds(settings["seed"], n_seeds)
    decoding = lm_model.Decoding(new_tokens=settings["block_size"],
                                 num_beams=settings["num_beams"],
                                 repetition_penalty=settings["repetition_penalty"])
    common = dict(prompt_source=settings["prompt_source"], base_directory=base.directory,
                  base_key=base.key, cache_directory=root,
                  generation_batch_size=settings["generation_batch_size"],
                  eval_batch_size=settings["eval_batch_size"],
                  example_prompt_index=settings["example_prompt_index"])

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


# --------------------------------------------------------------------------- one job
def family_for(job: LMJob, log: Callable[[str], None] | None = None) -> LanguageModelFamily:
    """The language-model family that ``job`` fits and generates with."""
    return LanguageModelFamily(job.base_directory, job.training, job.decoding,
                               prompt_source=job.prompt_source,
                               eval_batch_size=job.eval_batch_size,
                               generation_batch_size=job.generation_batch_size, log=log)


def job_metrics(family: LanguageModelFamily, job: LMJob) -> dict[str, Callable]:
    """The per-generation metrics of one job, name -> f(model, data, generation); none keeps
    state (the per-sequence perplexities under generation 0 are a fold,
    :class:`~collapse.language_model.family.ScoredByGenerationZero`)."""
    corpus, tokenizer = family.corpus, family.tokenizer
    original_words = lm_data.word_counts(
        lm_data.decode_blocks(tokenizer, corpus.finetune[:job.n_finetune_blocks]))
    example_prompt = corpus.test[job.example_prompt_index:job.example_prompt_index + 1]

    def example(model, data, generation):
        tokens, _ = lm_model.generate_continuations(
            family.load(model), example_prompt, job.decoding,
            np.random.default_rng([job.seed, generation]), 1)
        return tokens[0]

    def word_share(model, data, generation):
        produced = lm_data.word_counts(lm_data.decode_blocks(tokenizer, np.asarray(data)))
        return lm_data.word_type_share(original_words, produced)

    return {
        "test_perplexity": lambda model, data, g: lm_model.perplexity(
            family.load(model), corpus.test, job.eval_batch_size),
        "selection_perplexity": lambda model, data, g: min(model.info["selection_perplexity"]),
        "best_epoch": lambda model, data, g: model.info["best_epoch"],
        "train_tokens_per_second": lambda model, data, g: model.info["tokens_per_second"],
        "generate_tokens_per_second":
            lambda model, data, g: np.nan if g == 0 else family.last_generate_rate,
        "distinct_n": lambda model, data, g: np.array(
            [lm_data.distinct_n(np.asarray(data), n) for n in (1, 2, 3, 4)]),
        "sequence_repetition_4": lambda model, data, g: lm_data.sequence_repetition(
            np.asarray(data), 4),
        "word_type_share": word_share,
        "example": example,
    }


def scored_metrics(per_generation: list[np.ndarray], keep_sequences: bool
                   ) -> dict[str, np.ndarray]:
    """From the per-sequence perplexities of every generation's data (the
    :class:`~collapse.language_model.family.ScoredByGenerationZero` fold):
    ``sequence_perplexity_quantiles`` (n_generations + 1, len(QUANTILES)) and, with
    ``keep_sequences`` (same length every generation only under replace / mix_real),
    ``sequence_perplexity`` (n_generations + 1, n_blocks), float32."""
    out = {"sequence_perplexity_quantiles":
           np.stack([np.quantile(values, QUANTILES) for values in per_generation])}
    if keep_sequences:
        out["sequence_perplexity"] = np.stack([values.astype(np.float32)
                                               for values in per_generation])
    return out


def run_job(job: LMJob, interrupt_after: int | None = None) -> dict:
    """Run (or resume) one job's generations; returns its metrics as plain arrays.

    Threads: run through :func:`collapse.core.jobs.run_jobs`, which pins them per job.
    ``interrupt_after`` (tests only) raises ``KeyboardInterrupt`` once that generation is
    checkpointed.
    """
    quiet_transformers()
    started, cpu_started = time.perf_counter(), time.process_time()
    directory = job.checkpoint_directory
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "progress.log"

    def log(message: str) -> None:
        with open(log_path, "a") as stream:
            stream.write(f"{time.strftime('%H:%M:%S')} {job.label}: {message}\n")

    computed = [0]  # generations finished in this session (an interrupted one included)
    try:
        family = family_for(job, log)

        def progress(generation, total):
            computed[0] += 1
            log(f"generation {generation}/{total} done")
            if interrupt_after is not None and generation == interrupt_after:
                raise KeyboardInterrupt(f"interrupted after generation {generation}")

        real = family.corpus.finetune[:job.n_finetune_blocks]
        history = run_generations(family, real, policy_from_name(job.policy),
                                  job.n_generations, np.random.default_rng(job.seed),
                                  job_metrics(family, job), checkpointer=LMCheckpointer(directory),
                                  progress=progress,
                                  folds={"scored": ScoredByGenerationZero(family)})
    finally:
        timing = _record_timing(directory, computed[0], time.perf_counter() - started,
                                time.process_time() - cpu_started)
    metrics = {**history.metrics,
               **scored_metrics(history.folds["scored"]["per_generation"], job.keep_sequences)}
    return {"job": job, "metrics": metrics, "timing": timing,
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


# --------------------------------------------------------------------------- the experiment
def run_experiment(settings: Mapping[str, Any], root: str | Path | None = None,
                   progress: Callable[[str], None] | None = None) -> LMRun:
    """Prepare the base, then run every job with :func:`collapse.core.jobs.run_jobs`
    (``settings["n_jobs"]`` workers of joblib backend ``settings["backend"]``, each pinned to
    ``settings["threads_per_job"]`` threads; ``n_jobs=1`` runs them in this process).
    Finished generations are reused from the checkpoints under ``root`` (default
    :func:`cache_root`). ``progress(line)`` gets one line per finished job."""
    started = time.perf_counter()
    base = prepare_base(settings, root, progress)
    if progress:
        progress(f"base model: {base.info['parameters']:,} parameters, zero-shot test "
                 f"perplexity {base.info['zero_shot_test_perplexity']:.1f}; "
                 f"blocks {base.info['blocks']}")
    jobs = make_jobs(settings, base, root)
    # longest jobs first, so the parallel workers finish together
    order = sorted(jobs, key=lambda job: -(job.training.epochs * job.n_generations
                                           * job.n_finetune_blocks))
    finished = [0]

    def report(index: int, result: dict) -> None:
        finished[0] += 1
        if progress:
            resumed = "" if result["resumed_from"] is None else \
                f" (resumed after generation {result['resumed_from']})"
            progress(f"[{finished[0]}/{len(jobs)}] {result['job'].label}: "
                     f"{result['seconds']:.0f} s{resumed}")

    results = run_jobs(run_job, [(job,) for job in order], n_jobs=settings["n_jobs"],
                       backend=settings["backend"], threads_per_job=settings["threads_per_job"],
                       on_result=report)
    return LMRun(settings=dict(settings), base=base, results=results,
                 seconds=time.perf_counter() - started, main_peak_rss_mb=_peak_rss_mb())


def run(settings: Mapping[str, Any], progress: Callable[[str], None] | None = None) -> LMRun:
    """Everything the chapter shows (the experiment protocol's ``run``):
    :func:`run_experiment` with the default cache."""
    return run_experiment(settings, progress=progress)


def record_metrics(record, runs: LMRun) -> None:
    """The chapter's headline numbers into ``record`` (a ChapterRecord): test perplexity per
    generation (mean and per seed), last/generation-0 ratios, per-sequence perplexity
    quantiles, zero-shot perplexity, ablation ratios, throughput, wall time, cost, memory."""
    summary = runs.summary()
    for name, value in summary["settings"].items():
        record.metric(f"test_perplexity_{name}", value["test_perplexity_mean"])
        record.metric(f"test_perplexity_{name}_per_seed", value["test_perplexity_per_seed"])
        record.metric(f"perplexity_ratio_last_{name}", value["ratio_last_mean"])
        record.metric(f"sequence_perplexity_quantiles_{name}",
                      {"quantiles": list(QUANTILES),
                       "per_generation": runs.pooled_quantiles(name)})
    record.metric("zero_shot_test_perplexity", summary["zero_shot_test_perplexity"])
    record.metric("ablation_perplexity_ratio_last",
                  {name: value["ratio_last"] for name, value in summary["ablations"].items()})
    record.metric("throughput_tokens_per_second", runs.throughput())
    record.metric("experiment_wall_seconds", runs.seconds)
    record.metric("compute_cost_seconds", runs.compute_cost())
    record.metric("peak_memory_mb", runs.peak_memory_mb())
