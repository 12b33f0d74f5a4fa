"""Recursive fine-tuning of a language model on its own text (the paper's Figure 1): the
orchestration.

Shumailov et al. (2024), "Language model": OPT-125m is fine-tuned on WikiText-2 cut into
64-token blocks (generation 0, "Real"). Every later generation starts again from the same
pretrained checkpoint and is fine-tuned on text written by the previous generation: for each
original training block, 5-beam search writes the next 64 tokens, and those tokens are the new
block (same dataset size). Two settings, 5 seeds each: (a) 5 epochs, no original data;
(b) 10 epochs, a random 10% of the original blocks drawn afresh each generation.

:func:`run` does, in this order:

1. the **regime gate** (:func:`sweep`): for each candidate of the declared sweep
   (``settings["sweep"]``: learning rate × repetition penalty) the small base is fine-tuned on
   real data (generation 0 only) and writes one set of blocks; the first candidate whose text
   passes the gate (:func:`collapse.language_model.runs.gate_conditions`) becomes the main
   arm's base, before any collapse curve exists;
2. every chain (:func:`make_jobs`: the main settings × decodings × seeds, the variants, the
   decoding comparison, and the SmolLM2 arm) as jobs of :func:`collapse.core.jobs.run_jobs`,
   one thread each, through :func:`collapse.language_model.chains.run_job` (checkpointed).

Only this module and :mod:`.claims` read profile settings.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..core.checks import check_sample_size
from ..core.jobs import run_jobs
from ..core.seeds import integer_seeds
from . import model as lm_model
from .base import BaseInfo, cache_root, prepare_base
from .chains import LMJob, peak_rss_mb, run_job
from .family import PROMPT_SOURCES, policy_for
from .runs import LMChapterRuns, LMRun, SweepResult

# loky says so when it retires an idle worker between the gate and the chains: not an error
warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given")

__all__ = ["arm_settings", "decoding_for", "training_for", "sweep_jobs", "sweep", "make_jobs",
           "run_experiment", "run", "record_metrics", "policy_run"]


def arm_settings(settings: Mapping[str, Any], arm: str) -> dict:
    """The settings of ``arm``: "small" (the profile itself) or "smollm2" (the profile with
    its ``smollm2`` overrides; ValueError when the profile has no SmolLM2 arm)."""
    if arm == "small":
        return dict(settings)
    if arm == "smollm2":
        if not settings.get("smollm2"):
            raise ValueError(f"profile {settings.get('profile')!r} has no SmolLM2 arm "
                             f"(settings['smollm2'] is None)")
        return {**settings, **settings["smollm2"]}
    raise ValueError(f"arm must be 'small' or 'smollm2', got {arm!r}")


def decoding_for(spec: Mapping[str, Any], settings: Mapping[str, Any],
                 repetition_penalty: float | None = None) -> lm_model.Decoding:
    """The :class:`~collapse.language_model.model.Decoding` of a profile's decoding ``spec``
    (block_size new tokens; the arm's precision; ``repetition_penalty`` replaces a beam
    search's penalty, the sweep's choice)."""
    values = {"new_tokens": settings["block_size"], "precision": settings["precision"],
              **spec}
    if repetition_penalty is not None and not values.get("do_sample") \
            and values.get("num_beams", 5) > 1:
        values["repetition_penalty"] = repetition_penalty
    return lm_model.Decoding(**values)


def training_for(settings: Mapping[str, Any], epochs: int, lr: float) -> lm_model.TrainingSettings:
    """The released script's optimiser at learning rate ``lr`` (cosine per epoch down to
    ``lr · eta_min_ratio``) with the arm's batch size, weight decay and precision."""
    return lm_model.TrainingSettings(epochs=epochs, lr=lr, eta_min=lr * settings["eta_min_ratio"],
                                     batch_size=settings["batch_size"],
                                     weight_decay=settings["weight_decay"],
                                     precision=settings["precision"])


def _job(settings, base: BaseInfo, root: str, **fields) -> LMJob:
    common = dict(prompt_source=settings["prompt_source"], base_directory=base.directory,
                  base_key=base.key, cache_directory=root,
                  generation_batch_size=settings["generation_batch_size"],
                  eval_batch_size=settings["eval_batch_size"],
                  example_prompt_index=settings["example_prompt_index"],
                  keep_all_checkpoints=settings["backbone"] == "scratch")
    job = LMJob(**{**common, **fields})
    if job.prompt_source not in PROMPT_SOURCES:
        raise ValueError(f"prompt_source must be one of {', '.join(PROMPT_SOURCES)}; "
                         f"got {job.prompt_source!r}")
    policy_for(job.policy, job.n_finetune_blocks)  # a bad policy fails before any work
    return job


def _n_blocks(settings, base: BaseInfo, n: int | None = None) -> int:
    return n if n is not None else base.info["blocks"]["finetune"]


# --------------------------------------------------------------------------- the gate
def sweep_jobs(settings: Mapping[str, Any], base: BaseInfo,
               root: str | Path | None = None) -> list[LMJob]:
    """One generation-0 job per distinct learning rate of ``settings["sweep"]``, each writing
    one set of blocks with the beam search of every repetition penalty paired with that rate
    (the gate's text)."""
    root = str(Path(root) if root is not None else cache_root())
    seed = int(integer_seeds(settings["seed"], 1)[0])
    n = _n_blocks(settings, base, settings.get("chain_blocks") or settings["n_finetune_blocks"])
    rates = sorted({candidate["lr"] for candidate in settings["sweep"]}, reverse=True)
    jobs = []
    for lr in rates:
        penalties = [c["repetition_penalty"] for c in settings["sweep"] if c["lr"] == lr]
        gates = tuple(decoding_for(settings["decodings"]["beam"], settings, penalty)
                      for penalty in penalties)
        jobs.append(_job(settings, base, root, kind="sweep", arm="small", setting=f"lr {lr:g}",
                         decoding_name="gate", seed_index=0, seed=seed, policy="replace",
                         n_finetune_blocks=n, n_generations=0,
                         training=training_for(settings, settings["settings"]["no_real"]
                                               ["epochs"], lr),
                         decoding=gates[0], n_reference_blocks=n, gate_decodings=gates))
    return jobs


def sweep(settings: Mapping[str, Any], base: BaseInfo, root: str | Path | None = None,
          progress: Callable[[str], None] | None = None) -> SweepResult:
    """Run :func:`sweep_jobs` and choose the main arm's learning rate and repetition penalty:
    the first candidate (in the declared order) whose generation-0 text passes every gate
    condition, else the one failing the fewest (then the earliest)."""
    jobs = sweep_jobs(settings, base, root)
    results = run_jobs(run_job, [(job,) for job in jobs], n_jobs=min(settings["n_jobs"],
                                                                     len(jobs)),
                       backend=settings["backend"], threads_per_job=settings["threads_per_job"])
    by_rate = {job.training.lr: result for job, result in zip(jobs, results)}
    rows = []
    for candidate in settings["sweep"]:
        result = by_rate[candidate["lr"]]
        index = [d.repetition_penalty for d in result["job"].gate_decodings].index(
            candidate["repetition_penalty"])
        values = result["metrics"]["gate"][0, index]
        rows.append({**candidate, "seq_rep_4": values[0], "seq_rep_4_real": values[1],
                     "distinct_4": values[2], "distinct_4_real": values[3],
                     "test_perplexity": float(result["metrics"]["test_perplexity"][0]),
                     "seconds": result["seconds"]})
    outcome = SweepResult(rows, base.info["zero_shot_test_perplexity"], dict(settings["gate"]))
    if progress:
        progress(outcome.summary_line())
    return outcome


# --------------------------------------------------------------------------- the chains
def _seeds(settings, n_seeds=None):
    return integer_seeds(settings["seed"], check_sample_size(
        n_seeds if n_seeds is not None else settings["n_seeds"], "n_seeds", minimum=1))


def _main_pairs(settings) -> list[tuple[str, str]]:
    """The (setting, decoding) pairs run with every seed (``main_pairs``; None = all)."""
    pairs = settings.get("main_pairs")
    if pairs is None:
        return [(s, d) for s in settings["settings"] for d in settings["decodings"]]
    return [tuple(pair) for pair in pairs]


def make_jobs(settings: Mapping[str, Any], base: BaseInfo, arm: str = "small",
              lr: float | None = None, repetition_penalty: float | None = None,
              root: str | Path | None = None) -> list[LMJob]:
    """Every chain of one arm: (setting, decoding) pairs × seeds ("main"), and for the small
    arm the variants (e.g. keep 10% of the current data) and the decoding comparison
    (decodings × policies, one seed). ``lr``/``repetition_penalty``: the sweep's choice
    (default: the arm's ``lr``, the decoding's own penalty)."""
    root = str(Path(root) if root is not None else cache_root())
    lr = lr if lr is not None else settings["lr"]
    seeds = _seeds(settings)
    n = _n_blocks(settings, base, settings.get("chain_blocks") or settings["n_finetune_blocks"])

    def chain(kind, setting, decoding_name, spec, index, seed, policy, epochs, **extra):
        blocks = extra.pop("n_finetune_blocks", None) or n
        # the sweep's penalty applies to the main beam search, not to the comparison's own
        penalty = None if kind == "decoding" else repetition_penalty
        return _job(settings, base, root, kind=kind, arm=arm, setting=setting,
                    decoding_name=decoding_name, seed_index=index, seed=int(seed),
                    policy=policy, n_finetune_blocks=blocks,
                    training=training_for(settings, epochs, lr),
                    decoding=decoding_for(spec, settings, penalty),
                    n_reference_blocks=blocks, **extra)

    jobs = []
    for name, decoding_name in _main_pairs(settings):
        setting = settings["settings"][name]
        policy = "replace" if setting["real_fraction"] == 0 else \
            f"mix_real({setting['real_fraction']:g})"
        for index, seed in enumerate(seeds):
            jobs.append(chain("main", name, decoding_name, settings["decodings"][decoding_name],
                              index, seed, policy, setting["epochs"],
                              n_generations=settings["n_generations"]))
    if arm != "small":
        return jobs
    for name, variant in settings["variants"].items():
        for index, seed in enumerate(_seeds(settings, variant.get("n_seeds"))):
            jobs.append(chain("variant", name, "beam", settings["decodings"]["beam"], index,
                              seed, variant["policy"], variant["epochs"],
                              n_generations=variant.get("n_generations",
                                                        settings["n_generations"]),
                              prompt_source=variant.get("prompt_source",
                                                        settings["prompt_source"])))
    comparison = settings["decoding_comparison"]
    for policy in comparison["policies"]:
        for name, spec in comparison["decodings"].items():
            jobs.append(chain("decoding", policy, name, spec, 0, seeds[0], policy,
                              comparison["epochs"], n_generations=comparison["n_generations"],
                              n_finetune_blocks=comparison["n_finetune_blocks"],
                              keep_sequences=policy != "accumulate"))
    return jobs


def _job_cost(job: LMJob) -> float:
    """A rough relative cost, to start the longest jobs first (parameters enter via the arm)."""
    scale = 1000.0 if job.arm == "smollm2" else 1.0
    beams = job.decoding.num_beams if not job.decoding.do_sample else 1
    return scale * job.n_generations * job.n_finetune_blocks * (job.training.epochs + 2 * beams)


def run_experiment(settings: Mapping[str, Any], root: str | Path | None = None,
                   progress: Callable[[str], None] | None = None) -> LMChapterRuns:
    """The gate, then every chain of both arms (see the module docstring), reusing finished
    generations from the checkpoints under ``root`` (default :func:`cache_root`).
    ``progress(line)`` gets the gate's choice and one line per finished job."""
    started = time.perf_counter()
    base = prepare_base(settings, root, progress)
    if progress:
        progress(f"small base: {base.info['parameters']:,} parameters, zero-shot test "
                 f"perplexity {base.info['zero_shot_test_perplexity']:.1f}")
    gate = sweep(settings, base, root, progress)
    chosen = gate.chosen
    jobs = make_jobs(settings, base, "small", lr=chosen["lr"],
                     repetition_penalty=chosen["repetition_penalty"], root=root)
    bases = {"small": base}
    if settings.get("smollm2"):
        smol = arm_settings(settings, "smollm2")
        bases["smollm2"] = prepare_base(smol, root, progress)
        if progress:
            info = bases["smollm2"].info
            progress(f"SmolLM2 base: {info['parameters']:,} parameters, zero-shot test "
                     f"perplexity {info['zero_shot_test_perplexity']:.1f}")
        jobs += make_jobs(smol, bases["smollm2"], "smollm2", root=root)
    order = sorted(range(len(jobs)), key=lambda index: -_job_cost(jobs[index]))
    finished = [0]

    def report(position: int, result: dict) -> None:
        finished[0] += 1
        if progress:
            resumed = "" if result["resumed_from"] is None else \
                f" (resumed after generation {result['resumed_from']})"
            progress(f"[{finished[0]}/{len(jobs)}] {result['job'].label}: "
                     f"{result['seconds']:.0f} s{resumed}")

    results = run_jobs(run_job, [(jobs[index],) for index in order], n_jobs=settings["n_jobs"],
                       backend=settings["backend"], threads_per_job=settings["threads_per_job"],
                       on_result=report)
    arms = {arm: LMRun(settings=arm_settings(settings, arm), base=arm_base,
                       results=[r for r in results if r["job"].arm == arm])
            for arm, arm_base in bases.items()}
    return LMChapterRuns(settings=dict(settings), gate=gate, arms=arms,
                         seconds=time.perf_counter() - started, main_peak_rss_mb=peak_rss_mb())


def run(settings: Mapping[str, Any], progress: Callable[[str], None] | None = None
        ) -> LMChapterRuns:
    """Everything the chapter shows (the experiment protocol's ``run``):
    :func:`run_experiment` with the default cache."""
    return run_experiment(settings, progress=progress)


def record_metrics(record, runs: LMChapterRuns) -> None:
    """The chapter's headline numbers into ``record`` (a ChapterRecord)."""
    for name, value in runs.headline_metrics().items():
        record.metric(name, value)


# --------------------------------------------------------------------------- cross-family
def policy_run(policy: str, n_seeds: int, n_generations: int, rng: np.random.Generator, *,
               real_rng: np.random.Generator, settings: Mapping[str, Any]) -> np.ndarray:
    """The cross-family comparison's protocol (:class:`collapse.core.experiment.PolicyRunner`):
    test perplexity of ``n_seeds`` chains of the small arm under ``policy``, shape
    (n_generations + 1, n_seeds), at the decoding comparison's scale (its real blocks and
    epochs; M₀ = those blocks for ``growing``, whose prompts repeat), with temperature-1
    sampling (the statistical error the other families have; beam search would write the same
    text for a repeated prompt) and the learning rate the regime gate chose.

    ``rng`` and ``real_rng`` are not used: chain s draws from seed index s of
    ``settings["seed"]`` and starts from the chapter's real blocks, so a chain equals the one
    the chapter's checkpoints hold for the same settings (its decoding comparison's sampling
    chains under replace and accumulate, seed 0) and is reused from them rather than rerun."""
    base = prepare_base(settings)
    lr = sweep(settings, base).chosen["lr"]
    comparison, root = settings["decoding_comparison"], str(cache_root())
    blocks = _n_blocks(settings, base, comparison["n_finetune_blocks"])
    jobs = [_job(settings, base, root, kind="policy", arm="small", setting=policy,
                 decoding_name="sampling", seed_index=index, seed=int(seed), policy=policy,
                 n_finetune_blocks=blocks, n_generations=n_generations,
                 training=training_for(settings, comparison["epochs"], lr),
                 decoding=decoding_for(settings["decodings"]["sampling"], settings),
                 n_reference_blocks=blocks, keep_sequences=False)
            for index, seed in enumerate(_seeds(settings, n_seeds))]
    return np.stack([run_job(job)["metrics"]["test_perplexity"] for job in jobs], axis=1)
