"""The VAE chapter's experiments: the two arms' chains, the generation-0 gate's ladders, and the
numbers of the results file.

Two arms share the data split, the classifier, the loss and the optimiser:

* the **long arm** (the top-level settings ``architecture``, ``capacity``, ``epochs``,
  ``n_generations``, ``n_seeds``, ``policies``): every data policy for many generations (the
  escaping chapter reuses these chains, see :func:`policy_run`);
* the **authors' arm** (``authors_*`` settings, :func:`arm_settings`): the authors' convolutional
  VAE under `replace` for the notebook's generations.

Each arm also runs one *ladder* (:func:`run_ladder`): seed 0's generation 0 trained on to twice
the budget, scored after every epoch, for the gate (:func:`collapse.vae.claims.gate_parts`).

``run(settings, progress)`` runs everything the chapter shows and returns :class:`VAERuns`;
``record_metrics(record, runs)`` writes the headline numbers of ``vae.json``. Only this module,
:mod:`collapse.vae.text` and :mod:`collapse.vae.claims` read the chapter's profile settings.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..core.checks import check_sample_size
from ..core.experiment import Progress, Timings
from ..core.io import atomic_write_bytes
from ..core.jobs import pinned_threads, run_jobs
from ..core.loop import run_generations
from ..core.policies import policy_from_name
from ..core.seeds import spawn_seed_sequences
from ..publish.records import results_dir
from .chains import Chain, median_over_seeds, relative_drop, seconds_per_generation, \
    stack_metric
from .claims import PAPER_DROP, PAPER_SPREAD, gate_parts, smallest_passing_budget
from .data import ImageSplit, load_split
from .evaluation import DigitClassifier, EvaluationFold, GenerationEvaluator, \
    effective_classes, label_shares, train_classifier
from .family import RealImages, VAEFamily, check_synthetic_samples
from .model import heldout_negative_elbo, reconstruct

__all__ = ["ARMS", "arm_settings", "policy_generations", "chain_label", "family_from_settings", "chain_inputs",
           "run_policy", "Ladder", "run_ladder", "run_experiment", "VAERuns", "run",
           "gate_values", "record_metrics", "CHAIN_SETTINGS", "chains_key",
           "chains_artifact_path", "write_chains_artifact", "read_chains_artifact",
           "synthetic_samples_for", "policy_chain_label", "policy_run"]

ARMS = ("authors", "long")


def arm_settings(settings: Mapping[str, Any], arm: str) -> dict:
    """The flat chain settings of one arm: the long arm's are the top-level settings; the
    authors' arm replaces architecture, capacity, epochs, generations, seeds and policies with
    the conv network, ``authors_capacity``, ``authors_epochs``, ``authors_generations``,
    ``authors_seeds`` and `replace`."""
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; allowed: {', '.join(ARMS)}")
    if arm == "long":
        return dict(settings)
    return {**settings, "architecture": "conv", "capacity": settings["authors_capacity"],
            "epochs": settings["authors_epochs"],
            "n_generations": settings["authors_generations"],
            "n_seeds": settings["authors_seeds"], "policies": ["replace"]}


def policy_generations(settings: Mapping[str, Any], policy: str) -> int:
    """Generations a policy's chains run in the chapter: ``n_generations`` for `replace`,
    ``mitigation_generations`` (at most as many) for the policies that keep real data."""
    if policy == "replace":
        return settings["n_generations"]
    return min(settings["n_generations"], settings["mitigation_generations"])


def chain_label(policy_label: str, synthetic_samples: str = "fresh") -> str:
    """The key of a chain's results: the policy's label, marked when its synthetic data are a
    fixed set of decoded images (``synthetic_samples="fixed"``)."""
    check_synthetic_samples(synthetic_samples)
    return policy_label if synthetic_samples == "fresh" else f"{policy_label}, fixed images"


def family_from_settings(settings, images, synthetic_samples: str = "fresh",
                         policy: str = "replace") -> VAEFamily:
    """The :class:`VAEFamily` chain settings describe for real training ``images``; the
    policies listed in ``settings["pool_budget"]`` train an epoch of the whole pool."""
    return VAEFamily(image_size=int(images.shape[-1]), images_per_epoch=int(images.shape[0]),
                     capacity=settings["capacity"], latent_dim=settings["latent_dim"],
                     epochs=settings["epochs"], batch_size=settings["batch_size"],
                     learning_rate=settings["learning_rate"],
                     weight_decay=settings["weight_decay"], kl_weight=settings["kl_weight"],
                     device=settings["device"], synthetic_samples=synthetic_samples,
                     architecture=settings["architecture"],
                     epoch_images="pool" if policy in settings["pool_budget"] else "real")


@functools.lru_cache(maxsize=2)
def _split_and_classifier(dataset: str, held_out: int, seed: int
                          ) -> tuple[ImageSplit, DigitClassifier]:
    split = load_split(dataset, held_out, seed)
    return split, train_classifier(split.train_images, split.train_labels, split.test_images,
                                   split.test_labels)


def chain_inputs(settings) -> tuple[ImageSplit, DigitClassifier]:
    """The data split (:func:`collapse.vae.data.load_split`) and the digit classifier trained on
    its training digits; computed once per process for the same settings."""
    return _split_and_classifier(settings["dataset"], settings["held_out"], settings["seed"])


def _streams(settings, seed_index: int):
    stream = spawn_seed_sequences(settings["seed"], seed_index + 1)[seed_index]
    loop_seed, eval_seed = spawn_seed_sequences(stream, 2)
    return np.random.default_rng(loop_seed), int(eval_seed.generate_state(1)[0])


def _final_loss(model, data, generation) -> float:
    """Metric: the mean negative ELBO per image in the model's last training epoch."""
    return model.training_losses[-1]


def run_policy(settings, policy_name: str, seed_index: int, synthetic_samples: str = "fresh",
               threads: int = 1) -> Chain:
    """Run one chain (``policy_name``, seed number ``seed_index``) of the loop from flat chain
    settings (:func:`arm_settings`).

    Seed ``seed_index`` is the same stream for every policy, so all policies share
    generation 0 and differ only by what later generations train on. ``threads``: torch and
    BLAS threads while the chain runs (restored afterwards). Float results depend on it, so
    every path uses the same value (1: fastest for these small models on a shared CPU).
    ``synthetic_samples``: see :class:`VAEFamily`; the chain's label is :func:`chain_label`.
    """
    seed_index = check_sample_size(seed_index, "seed_index", minimum=0)
    check_synthetic_samples(synthetic_samples)
    with pinned_threads(threads):
        split, classifier = chain_inputs(settings)
        rng, eval_seed = _streams(settings, seed_index)
        evaluator = GenerationEvaluator(split.test_images, split.test_labels, classifier,
                                        settings["n_eval_samples"], seed=eval_seed,
                                        n_grid=settings["n_grid_images"])
        family = family_from_settings(settings, split.train_images, synthetic_samples,
                                      policy_name)
        # M = the number of real training images (growing: M_n = M (n + 1))
        policy = policy_from_name(policy_name, sample_size=len(split.train_images))
        cpu_started = time.process_time()
        history = run_generations(family, RealImages(split.train_images), policy,
                                  settings["n_generations"], rng, {"final_loss": _final_loss},
                                  folds={"evaluation": EvaluationFold(evaluator)})
        cpu_seconds = time.process_time() - cpu_started
    return Chain(label=chain_label(policy.label(), synthetic_samples), seed_index=seed_index,
                 metrics={**history.folds["evaluation"].stacked(), **history.metrics},
                 seconds=history.seconds, cpu_seconds=cpu_seconds)


@dataclasses.dataclass
class Ladder:
    """Seed 0's generation 0 of an arm trained for twice its budget, scored after every epoch
    (arrays of length 2E): held-out negative ELBO per image (``elbo``), the classifier's
    accuracy on its reconstructions of the held-out digits, the effective number of classes of
    its prior samples; with the training images per CPU second (scoring excluded; one thread)
    and the wall and CPU seconds of the whole ladder."""

    budget: int
    elbo: np.ndarray
    reconstruction_accuracy: np.ndarray
    coverage: np.ndarray
    images_per_second: float
    seconds: float
    cpu_seconds: float


def run_ladder(settings, threads: int = 1) -> Ladder:
    """The gate's ladder for flat chain settings: generation 0 of seed 0, with the same random
    streams as seed 0's chain (so epoch E of the ladder *is* that chain's generation 0),
    trained on to 2E epochs and scored after each one."""
    budget = check_sample_size(settings["epochs"], "epochs", minimum=1)
    with pinned_threads(threads):
        split, classifier = chain_inputs(settings)
        rng, eval_seed = _streams(settings, 0)
        evaluator = GenerationEvaluator(split.test_images, split.test_labels, classifier,
                                        settings["n_eval_samples"], seed=eval_seed, n_grid=1)
        family = family_from_settings({**settings, "epochs": 2 * budget}, split.train_images)
        rows = []
        scoring = [0.0]  # CPU seconds spent scoring

        def score(epoch, model):
            started = time.process_time()
            shares = label_shares(classifier, evaluator.samples(model))
            rows.append((heldout_negative_elbo(model, split.test_images, eval_seed),
                         float(np.mean(classifier.predict(reconstruct(model, split.test_images))
                                       == split.test_labels)),
                         float(effective_classes(_entropy(shares)))))
            scoring[0] += time.process_time() - started

        started, cpu_started = time.perf_counter(), time.process_time()
        family.fit(RealImages(split.train_images), rng, on_epoch=score)
        seconds, cpu_seconds = (time.perf_counter() - started,
                                time.process_time() - cpu_started)
    elbo, accuracy, coverage = (np.array(column) for column in zip(*rows))
    trained_images = 2 * budget * len(split.train_images)
    return Ladder(budget, elbo, accuracy, coverage,
                  trained_images / max(cpu_seconds - scoring[0], 1e-9), seconds, cpu_seconds)


def _entropy(shares: np.ndarray) -> float:
    shares = shares[shares > 0]
    return float(-np.sum(shares * np.log(shares)))


def _progress_line(number: int, total: int, result) -> str:
    if isinstance(result, Ladder):
        return (f"job {number}/{total}: gate ladder, {2 * result.budget} epochs: "
                f"{result.seconds:.0f} s ({result.images_per_second:,.0f} training images per "
                f"CPU second)")
    per_generation = result.n_generations + 1
    return (f"job {number}/{total}: {result.label}, seed {result.seed_index}: "
            f"{result.seconds:.0f} s ({result.seconds / per_generation:.1f} s wall, "
            f"{result.cpu_seconds / per_generation:.1f} s CPU per generation)")


def _run_task(kind: str, settings: dict, policy: str, seed: int, samples: str):
    return run_ladder(settings) if kind == "ladder" else run_policy(settings, policy, seed,
                                                                    samples)


def run_experiment(settings, policies: Sequence[str] | None = None, n_seeds: int | None = None,
                   n_jobs: int | None = None, progress: Progress | bool | None = None,
                   fixed_image_policies: Sequence[str] = (), ladder: bool = False,
                   extra: Sequence[tuple] = ()) -> tuple[dict[str, list[Chain]], list]:
    """Every (policy, seed) chain of flat chain settings, in ``n_jobs`` processes
    (:func:`collapse.core.jobs.run_jobs`, one torch/BLAS thread each; 1 = in this process).

    Returns (chain label (:func:`chain_label`) -> chains ordered by seed, the results of the
    ``extra`` tasks and of the ladder (``ladder=True``), in that order). ``extra``: more tasks
    ``(kind, settings, policy, seed, samples)`` for the same pool of workers.
    ``fixed_image_policies`` run as well, with ``synthetic_samples="fixed"``. A policy runs
    :func:`policy_generations` generations. Results do not
    depend on ``n_jobs``: each chain's randomness comes only from its own seed, and every chain
    runs with one thread. ``progress(line)`` gets one line per finished job (``True``: print).
    """
    policies = list(settings["policies"] if policies is None else policies)
    n_seeds = check_sample_size(settings["n_seeds"] if n_seeds is None else n_seeds,
                                "n_seeds", minimum=1)
    n_jobs = check_sample_size(settings["n_jobs"] if n_jobs is None else n_jobs, "n_jobs",
                               minimum=1)
    if progress is True:
        progress = _print_flushed
    chains = [(policy, "fresh") for policy in policies]
    chains += [(policy, "fixed") for policy in fixed_image_policies]
    for policy, _ in chains:
        policy_from_name(policy, sample_size=2)  # unknown names fail before any work
    tasks = [("chain", {**settings, "n_generations": policy_generations(settings, policy)},
              policy, seed, mode) for policy, mode in chains for seed in range(n_seeds)]
    others = list(extra) + ([("ladder", dict(settings), "", 0, "fresh")] if ladder else [])
    # the longest jobs first (pools that grow, then the others), so no worker idles at the end
    order = sorted(range(len(tasks) + len(others)), key=lambda i: _cost_rank((tasks + others)[i]))
    everything = [(tasks + others)[i] for i in order]
    finished = []

    def report(index: int, result) -> None:
        finished.append(index)
        if progress:
            progress(_progress_line(len(finished), len(everything), result))

    results = run_jobs(_run_task, everything, n_jobs=n_jobs, threads_per_job=1,
                       on_result=report)
    by_task = [None] * len(everything)
    for position, index in enumerate(order):
        by_task[index] = results[position]
    grouped: dict[str, list[Chain]] = {}
    for chain in by_task[:len(tasks)]:
        grouped.setdefault(chain.label, []).append(chain)
    return grouped, by_task[len(tasks):]


def _cost_rank(task: tuple) -> float:
    """Minus the rough cost of a task (images trained), for longest-first scheduling."""
    kind, settings, policy, _, _ = task
    generations = 2 if kind == "ladder" else settings["n_generations"] + 1
    if kind == "chain" and policy in settings["pool_budget"]:
        generations = generations * (generations + 1) / 2
    speed = 1.0 if settings["architecture"] == "mlp" else 4.0 * settings["capacity"] / 16
    return -generations * settings["epochs"] * speed


def _print_flushed(line: str) -> None:
    print(line, flush=True)


# =========================================================================== the chapter
@dataclasses.dataclass
class VAERuns:
    """Everything the VAE chapter simulates: the long arm's ``chains`` (policy -> chains
    ordered by seed), the authors' arm's `replace` chains (``authors``), each arm's gate
    ladder (``ladders``), the classifier's reference values on the held-out real digits
    (``classifier``: accuracy, label shares, entropy, rarest share), the first held-out digits
    (``real_grid`` (n_grid, H, W), for the sample figures), the settings, the wall seconds of
    each step and the chains artifact :func:`run` wrote for the escaping chapter."""

    settings: dict
    chains: dict[str, list[Chain]]
    authors: list[Chain]
    ladders: dict[str, Ladder]
    classifier: dict[str, Any]
    timings: Timings
    real_grid: np.ndarray | None = None
    artifact: Path | None = None

    @property
    def replace(self) -> list[Chain]:
        return self.chains["replace"]

    @property
    def n_generations(self) -> int:
        return self.settings["n_generations"]

    @property
    def authors_end(self) -> int:
        """The paper's 5th generation (or the authors' arm's last one, if earlier)."""
        return min(5, self.settings["authors_generations"])

    @property
    def mitigation_end(self) -> int:
        """The generation at which the policies other than replace stop."""
        return min(self.n_generations, self.settings["mitigation_generations"])

    @property
    def grid_generations(self) -> list[int]:
        return [g for g in self.settings["grid_generations"] if g <= self.n_generations]

    @property
    def gates(self) -> dict[str, dict]:
        """arm -> the gate's values (:func:`gate_values`)."""
        return {"authors": gate_values(self.ladders["authors"], self.authors, self.classifier),
                "long": gate_values(self.ladders["long"], self.replace, self.classifier)}


def gate_values(ladder: Ladder, chains: Sequence[Chain], classifier: Mapping) -> dict:
    """The gate's input (:func:`collapse.vae.claims.gate_parts`) for an arm: its ladder and
    every chain's generation 0."""
    return {"budget": ladder.budget, "ladder_elbo": ladder.elbo,
            "reconstruction_accuracy": stack_metric(chains, "reconstruction_accuracy")[0],
            "coverage": effective_classes(stack_metric(chains, "class_entropy")[0]),
            "real_accuracy": classifier["accuracy"],
            "real_coverage": float(np.exp(classifier["entropy"]))}


def run(settings, progress: Progress | None = None) -> VAERuns:
    """Every job of the chapter in one pool of workers: the long arm's chains
    (``policies`` x ``n_seeds``; filed in the results folder's chains artifact for the escaping
    chapter, :func:`write_chains_artifact`), the authors' arm's `replace` chains and both arms'
    gate ladders. ``progress(line)``: one line per finished job."""
    timings = Timings()
    authors = arm_settings(settings, "authors")
    extra = [("chain", authors, "replace", seed, "fresh")
             for seed in range(authors["n_seeds"])] + [("ladder", authors, "", 0, "fresh")]
    with timings("chains"):
        chains, others = run_experiment(settings, progress=progress, ladder=True, extra=extra)
    artifact = write_chains_artifact(settings, chains)
    *authors_chains, authors_ladder, long_ladder = others
    split, classifier = chain_inputs(settings)
    reference = {"accuracy": classifier.accuracy, "shares": classifier.shares,
                 "entropy": classifier.entropy, "rarest_share": classifier.rarest_share}
    return VAERuns(dict(settings), chains, list(authors_chains),
                   {"authors": authors_ladder, "long": long_ladder}, reference, timings,
                   split.test_images[:settings["n_grid_images"], 0].numpy(), artifact)


def record_metrics(record, runs: VAERuns) -> None:
    """The chapter's headline numbers for ``vae.json`` (medians over seeds, per-seed values
    where a claim uses them)."""
    results, last = runs.chains, runs.n_generations
    checkpoints = [g for g in (1, 5, 10, 20) if g <= last]
    record.metric("dataset", chain_inputs(runs.settings)[0].dataset)
    record.metric("authors_latent_spread_by_seed", stack_metric(runs.authors, "latent_spread"))
    record.metric("authors_spread_drop_by_seed", relative_drop(runs.authors,
                                                               end=runs.authors_end))
    record.metric("paper_spread", {str(g): list(r) for g, r in PAPER_SPREAD.items()})
    record.metric("paper_spread_drop", list(PAPER_DROP))
    record.metric("latent_spread", {
        policy: {str(g): float(np.median(stack_metric(chains, "latent_spread")[g]))
                 for g in [0] + checkpoints if g <= chains[0].n_generations}
        for policy, chains in results.items()})
    record.metric("latent_spread_by_seed", {policy: stack_metric(chains, "latent_spread")
                                            for policy, chains in results.items()})
    for name in ("class_entropy", "rarest_share", "frechet", "heldout_elbo"):
        record.metric(name, {policy: median_over_seeds(chains, name)
                             for policy, chains in results.items()})
    record.metric("frechet_by_seed", {policy: stack_metric(chains, "frechet")
                                      for policy, chains in results.items()})
    record.metric("classifier", runs.classifier)
    for arm, ladder in runs.ladders.items():
        gate = runs.gates[arm]
        record.metric(f"gate_{arm}", {
            "budget": ladder.budget, "ladder_elbo": ladder.elbo,
            "ladder_reconstruction_accuracy": ladder.reconstruction_accuracy,
            "ladder_coverage": ladder.coverage, "parts": gate_parts(gate),
            "smallest_passing_budget": smallest_passing_budget({
                "ladder_elbo": ladder.elbo, "reconstruction_accuracy":
                    ladder.reconstruction_accuracy, "coverage": ladder.coverage,
                "real_accuracy": gate["real_accuracy"], "real_coverage": gate["real_coverage"]}),
            "generation0_heldout_elbo": stack_metric(
                runs.authors if arm == "authors" else runs.replace, "heldout_elbo")[0],
            "images_per_second": ladder.images_per_second})
    record.metric("seconds_per_generation_median", {
        "long": float(np.median(seconds_per_generation(results))),
        "authors": float(np.median(seconds_per_generation({"replace": runs.authors})))})
    record.metric("chains_seconds", runs.timings.get("chains"))


# =========================================================================== the chains artifact
CHAIN_SETTINGS = ("seed", "dataset", "held_out", "n_generations", "architecture", "capacity",
                  "latent_dim", "epochs", "batch_size", "learning_rate", "weight_decay",
                  "kl_weight", "device", "n_eval_samples", "n_grid_images", "n_seeds",
                  "policies", "pool_budget", "mitigation_generations")
"""The settings that decide the long arm's chains (which chains, and every number in them)."""

_PACKAGE = Path(__file__).resolve().parents[1]  # src/collapse


def chains_key(settings: Mapping[str, Any]) -> str:
    """16 hex digits of sha256 over :data:`CHAIN_SETTINGS` of ``settings`` and the code that
    runs a chain (the ``vae`` and ``core`` packages): equal keys, equal chains."""
    chosen = {name: settings[name] for name in CHAIN_SETTINGS}
    digest = hashlib.sha256(json.dumps(chosen, sort_keys=True, default=str).encode())
    for path in sorted([*(_PACKAGE / "vae").glob("*.py"), *(_PACKAGE / "core").glob("*.py")]):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def chains_artifact_path(settings: Mapping[str, Any], directory: str | os.PathLike | None = None
                         ) -> Path:
    """``<results dir>/artifacts/vae-chains-<chains_key>.npz``."""
    root = Path(directory) if directory is not None else results_dir()
    return root / "artifacts" / f"vae-chains-{chains_key(settings)}.npz"


def write_chains_artifact(settings: Mapping[str, Any], chains: Mapping[str, Sequence[Chain]],
                          directory: str | os.PathLike | None = None) -> Path:
    """File the long arm's chains for other chapters (the escaping chapter reuses them rather
    than rerunning them): an ``.npz`` at :func:`chains_artifact_path`, written atomically,
    with ``labels`` (P,) the chain labels, ``latent_spread`` (P, N + 1, seeds) the latent
    spread per generation and seed, ``seconds`` (P, seeds) each chain's wall time and
    ``settings`` the :data:`CHAIN_SETTINGS` as JSON. Only chains of all ``n_generations``
    generations are filed (shorter mitigation chains are not). Returns the path."""
    labels = [label for label, runs in chains.items()
              if runs[0].n_generations == settings["n_generations"]]
    buffer = io.BytesIO()
    np.savez(buffer, labels=np.array(labels),
             latent_spread=np.stack([stack_metric(chains[label], "latent_spread")
                                     for label in labels]),
             seconds=np.array([[chain.seconds for chain in chains[label]] for label in labels]),
             settings=np.array(json.dumps({name: settings[name] for name in CHAIN_SETTINGS},
                                          default=str)))
    path = chains_artifact_path(settings, directory)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def read_chains_artifact(settings: Mapping[str, Any],
                         directory: str | os.PathLike | None = None
                         ) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """The chains filed by :func:`write_chains_artifact` under ``settings``' key: chain label
    -> (latent spread (N + 1, seeds), wall seconds (seeds,)); None when there is no such
    artifact (other settings, other code, or the VAE chapter has not run)."""
    path = chains_artifact_path(settings, directory)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as stored:
        return {str(label): (stored["latent_spread"][index], stored["seconds"][index])
                for index, label in enumerate(stored["labels"])}


# =========================================================================== cross-family
def synthetic_samples_for(policy: str, settings: Mapping[str, Any]) -> str:
    """How ``policy``'s chains draw their synthetic images: ``settings["synthetic_samples"]``
    (default "fresh"), but always a fixed set for `growing` — with fresh decoder samples for
    every batch a sample size only weighs pools, so M_n = M₀ (n + 1) would change nothing."""
    if policy == "growing":
        return "fixed"
    return check_synthetic_samples(settings.get("synthetic_samples", "fresh"))


def policy_chain_label(policy: str, settings: Mapping[str, Any]) -> str:
    """The label (:func:`chain_label`) of :func:`policy_run`'s chains of ``policy``. (A
    policy's label does not depend on its sample size: M₀ = 2 stands in for the images.)"""
    label = policy_from_name(policy, sample_size=2).label()
    return chain_label(label, synthetic_samples_for(policy, settings))


def policy_run(policy: str, n_seeds: int, n_generations: int, rng: np.random.Generator, *,
               real_rng: np.random.Generator, settings: Mapping[str, Any]) -> np.ndarray:
    """The cross-family comparison's protocol (:class:`collapse.core.experiment.PolicyRunner`):
    the latent spread of ``n_seeds`` long-arm chains (:func:`run_policy`, seeds 0 … n_seeds − 1,
    one after another in this process) under ``policy`` with the chapter's ``settings`` (M₀ =
    the number of real training images; synthetic images as :func:`synthetic_samples_for`
    says), shape (n_generations + 1, n_seeds).

    ``rng`` and ``real_rng`` are not used: chain s draws from seed index s of
    ``settings["seed"]``, as in the chapter, so every policy shares generation 0 and a chain
    equals the chapter's chain of the same settings (which is what lets the escaping chapter
    reuse them)."""
    chain_settings = {**settings, "n_generations": n_generations}
    samples = synthetic_samples_for(policy, settings)
    chains = [run_policy(chain_settings, policy, seed, samples) for seed in range(n_seeds)]
    return stack_metric(chains, "latent_spread")
