"""One chain of recursive fine-tuning, as an independent job: :class:`LMJob` says what to run
(base, data policy, training, decoding, generations), :func:`run_job` runs or resumes it
through :func:`collapse.core.loop.run_generations` with
:class:`~collapse.language_model.family.LanguageModelFamily`, checkpointed generation by
generation under ``<cache>/language_model/runs/`` (a corrupt checkpoint is detected by its
sha256 and recomputed), and returns its per-generation metrics as plain arrays.

Per generation g (data = the blocks generation g trained on, written by generation g − 1):
test perplexity with the next-token entropy and top-1 mass on the test blocks, best epoch,
diversity of the data (distinct-n, seq-rep-4), the share of the original word types still
present, the example prompt's continuation, throughput; and, carried across generations
(:class:`~collapse.language_model.family.ScoredByGenerationZero`), every generation's data and
the held-out reference blocks scored by generation 0.
"""
from __future__ import annotations

import dataclasses
import json
import resource
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.io import atomic_write_bytes
from ..core.loop import run_generations
from . import data as lm_data
from . import model as lm_model
from .base import code_version, digest, quiet_transformers
from .family import LanguageModelFamily, LMCheckpointer, ScoredByGenerationZero, policy_for

__all__ = ["LMJob", "family_for", "gate_statistics", "job_metrics", "scored_metrics",
           "run_job", "peak_rss_mb", "QUANTILES"]

# transformers imports tqdm.auto, which warns in notebooks without ipywidgets; the chapter
# prints plain text only
warnings.filterwarnings("ignore", message="IProgress not found")

#: quantiles of the per-sequence perplexity reported for every generation (5%, median, 95%, 99%)
QUANTILES = (0.05, 0.5, 0.95, 0.99)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclasses.dataclass(frozen=True)
class LMJob:
    """One independent run of the loop.

    ``kind``: "main" (a setting × decoding × seed of an arm), "decoding" (the decoding
    comparison), "variant" (e.g. keep 10% of the *current* data) or "sweep" (generation 0 only,
    with the regime gate's statistics for each of ``gate_decodings``). ``arm``: "small" or
    "smollm2". ``n_reference_blocks``: how many test blocks are the held-out real reference
    of the histograms and the word-type null (as many as the training blocks).
    """

    kind: str
    arm: str
    setting: str                   # e.g. "no_real", "keep_10pct", "keep_10pct_current"
    decoding_name: str             # e.g. "beam", "sampling", "greedy"
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
    n_reference_blocks: int
    keep_sequences: bool = True    # keep every per-sequence perplexity (histograms)
    keep_all_checkpoints: bool = True
    gate_decodings: tuple = ()

    def key(self) -> str:
        """Hash of everything that shapes the run's numbers (not where it is stored)."""
        spec = dataclasses.asdict(self)
        for name in ("base_directory", "cache_directory", "kind", "arm", "setting",
                     "decoding_name", "keep_sequences", "keep_all_checkpoints"):
            spec.pop(name)
        return digest({**spec, "version": code_version()})

    @property
    def checkpoint_directory(self) -> Path:
        name = f"{self.arm}-{self.setting}-{self.decoding_name}-seed{self.seed_index}"
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return Path(self.cache_directory) / "language_model" / "runs" / f"{name}-{self.key()}"

    @property
    def label(self) -> str:
        return f"{self.arm} {self.setting} / {self.decoding_name} / seed {self.seed_index}"


def family_for(job: LMJob, log: Callable[[str], None] | None = None) -> LanguageModelFamily:
    """The language-model family that ``job`` fits and generates with."""
    return LanguageModelFamily(job.base_directory, job.training, job.decoding,
                               prompt_source=job.prompt_source,
                               eval_batch_size=job.eval_batch_size,
                               generation_batch_size=job.generation_batch_size, log=log)


def gate_statistics(written: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """The regime gate's view of a set of written blocks (n, 64) beside as many real blocks:
    seq-rep-4 (repeated 4-grams inside a sequence) and corpus distinct-4 of both."""
    return {"seq_rep_4": lm_data.sequence_repetition(written, 4),
            "seq_rep_4_real": lm_data.sequence_repetition(real, 4),
            "distinct_4": lm_data.distinct_n(written, 4),
            "distinct_4_real": lm_data.distinct_n(real, 4)}


def job_metrics(family: LanguageModelFamily, job: LMJob) -> dict[str, Callable]:
    """The per-generation metrics of one job, name -> f(model, data, generation); none keeps
    state (the per-sequence perplexities under generation 0 are a fold)."""
    corpus, tokenizer = family.corpus, family.tokenizer
    original_words = lm_data.word_counts(
        lm_data.decode_blocks(tokenizer, corpus.finetune[:job.n_finetune_blocks]))
    example_prompt = corpus.test[job.example_prompt_index:job.example_prompt_index + 1]
    reference = corpus.test[:job.n_reference_blocks]

    def example(model, data, generation):
        tokens, _ = lm_model.generate_continuations(
            family.load(model), example_prompt, job.decoding,
            np.random.default_rng([job.seed, generation]), 1)
        return tokens[0]

    def word_share(model, data, generation):
        produced = lm_data.word_counts(lm_data.decode_blocks(tokenizer, np.asarray(data)))
        return lm_data.word_type_share(original_words, produced)

    def test_statistics(model, data, generation):
        started = time.perf_counter()
        scored = lm_model.next_token_stats(family.load(model), corpus.test, job.eval_batch_size)
        rate = corpus.test.size / max(time.perf_counter() - started, 1e-9)
        return np.array([scored["perplexity"], scored["entropy"], scored["top1_mass"], rate])

    def gate(model, data, generation):  # (decodings, 4) at generation 0; NaN later
        out = np.full((len(job.gate_decodings), 4), np.nan)
        if generation == 0:
            prompts = np.asarray(data)[:job.n_reference_blocks]
            for row, decoding in enumerate(job.gate_decodings):
                written, _ = lm_model.generate_continuations(
                    family.load(model), prompts, decoding,
                    np.random.default_rng([job.seed, row]), job.generation_batch_size)
                out[row] = list(gate_statistics(written, reference[:len(written)]).values())
        return out

    metrics = {
        "test_statistics": test_statistics,
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
    if job.gate_decodings:
        metrics["gate"] = gate
    return metrics


def reference_word_share(family: LanguageModelFamily, job: LMJob) -> np.ndarray:
    """The real-vs-real null of the word-type share: the share of the original word types that
    the reference blocks (as many held-out real test blocks as training blocks) contain, by
    frequency bucket; shape (buckets,)."""
    tokenizer, corpus = family.tokenizer, family.corpus
    original = lm_data.word_counts(
        lm_data.decode_blocks(tokenizer, corpus.finetune[:job.n_finetune_blocks]))
    reference = lm_data.word_counts(
        lm_data.decode_blocks(tokenizer, corpus.test[:job.n_reference_blocks]))
    return lm_data.word_type_share(original, reference)


def scored_metrics(scored: dict, keep_sequences: bool) -> dict[str, np.ndarray]:
    """From the :class:`ScoredByGenerationZero` fold's value: ``sequence_perplexity_quantiles``
    (n_generations + 1, len(QUANTILES)), ``reference_sequence_perplexity`` (n_reference,) and,
    with ``keep_sequences`` (same length every generation only under replace / mix_real),
    ``sequence_perplexity`` (n_generations + 1, n_blocks), float32."""
    per_generation = scored["per_generation"]
    out = {"sequence_perplexity_quantiles":
           np.stack([np.quantile(values, QUANTILES) for values in per_generation]),
           "reference_sequence_perplexity": np.asarray(scored["reference"], np.float32)}
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
        reference = family.corpus.test[:job.n_reference_blocks]
        history = run_generations(
            family, real, policy_for(job.policy, job.n_finetune_blocks), job.n_generations,
            np.random.default_rng(job.seed), job_metrics(family, job),
            checkpointer=LMCheckpointer(directory, keep_all=job.keep_all_checkpoints),
            progress=progress, folds={"scored": ScoredByGenerationZero(family, reference)})
    finally:
        timing = _record_timing(directory, computed[0], time.perf_counter() - started,
                                time.process_time() - cpu_started)
    metrics = dict(history.metrics)
    statistics = metrics.pop("test_statistics")  # (generations, 4)
    metrics.update(test_perplexity=statistics[:, 0], next_token_entropy=statistics[:, 1],
                   top1_mass=statistics[:, 2], score_tokens_per_second=statistics[:, 3],
                   reference_word_type_share=reference_word_share(family, job),
                   **scored_metrics(history.folds["scored"], job.keep_sequences))
    return {"job": job, "metrics": metrics, "timing": timing,
            "sizes": history.sizes, "resumed_from": history.resumed_from,
            "seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb(),
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
        timing["peak_rss_mb"] = max(timing["peak_rss_mb"], peak_rss_mb())
        atomic_write_bytes(path, json.dumps(timing).encode())
    return timing
