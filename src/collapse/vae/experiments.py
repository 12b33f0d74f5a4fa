"""The VAE chapter's experiments: every (data policy, seed) chain of the loop, the loss ablation,
and the numbers of the results file.

``run(settings, progress)`` runs everything the chapter shows and returns :class:`VAERuns`;
``record_metrics(record, runs)`` writes the headline numbers of ``vae.json``. Only this module
and :mod:`collapse.vae.claims` read the chapter's profile settings.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import scipy.stats
import torch

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
from .claims import PAPER_DROP
from .data import load_images
from .evaluation import EvaluationFold, GenerationEvaluator, effective_classes, label_shares, \
    train_classifier
from .family import RealImages, VAEFamily, check_synthetic_samples
from .model import batch_sizes_for_epoch

__all__ = ["chain_label", "family_from_settings", "ablation_settings", "run_policy",
           "run_experiment", "real_label_reference", "VAERuns", "run", "record_metrics",
           "adam_steps_per_generation", "setup_markdown", "timing_markdown", "spread_markdown",
           "modes_markdown", "policies_markdown", "ablation_markdown", "CHAIN_SETTINGS",
           "chains_key", "chains_artifact_path", "write_chains_artifact",
           "read_chains_artifact", "synthetic_samples_for", "policy_chain_label", "policy_run"]


def chain_label(policy_label: str, synthetic_samples: str = "fresh") -> str:
    """The key of a chain's results: the policy's label, marked when its synthetic data are a
    fixed set of decoded images (``synthetic_samples="fixed"``)."""
    check_synthetic_samples(synthetic_samples)
    return policy_label if synthetic_samples == "fresh" else f"{policy_label}, fixed images"


def family_from_settings(settings, images: torch.Tensor,
                         synthetic_samples: str = "fresh") -> VAEFamily:
    """The :class:`VAEFamily` a chapter's settings describe, for real ``images``."""
    return VAEFamily(image_size=int(images.shape[-1]), images_per_epoch=int(images.shape[0]),
                     capacity=settings["capacity"], latent_dim=settings["latent_dim"],
                     epochs=settings["epochs"], batch_size=settings["batch_size"],
                     learning_rate=settings["learning_rate"],
                     weight_decay=settings["weight_decay"], kl_weight=settings["kl_weight"],
                     device=settings["device"], synthetic_samples=synthetic_samples)


def ablation_settings(settings) -> dict:
    """The settings of the loss ablation: ``ablation_kl_weight``, ``ablation_generations``."""
    return {**settings, "kl_weight": settings["ablation_kl_weight"],
            "n_generations": settings["ablation_generations"]}


def _final_loss(model, data, generation) -> float:
    """Metric: the mean negative ELBO per image in the model's last training epoch."""
    return model.training_losses[-1]


def run_policy(settings, policy_name: str, seed_index: int, synthetic_samples: str = "fresh",
               threads: int = 1) -> Chain:
    """Run one chain (``policy_name``, seed number ``seed_index``) of the loop from settings.

    Seed ``seed_index`` is the same stream for every policy, so all policies share
    generation 0 and differ only by what later generations train on. ``threads``: torch and
    BLAS threads while the chain runs (restored afterwards). Float results depend on it, so
    every path uses the same value (1: fastest for these small models on a shared CPU).
    ``synthetic_samples``: see :class:`VAEFamily`; the chain's label is :func:`chain_label`.
    """
    seed_index = check_sample_size(seed_index, "seed_index", minimum=0)
    check_synthetic_samples(synthetic_samples)
    with pinned_threads(threads):
        images, labels = load_images(settings["dataset"])
        stream = spawn_seed_sequences(settings["seed"], seed_index + 1)[seed_index]
        loop_seed, eval_seed = spawn_seed_sequences(stream, 2)
        classifier, _ = train_classifier(images, labels, seed=settings["seed"])
        evaluator = GenerationEvaluator(images, classifier, settings["n_eval_samples"],
                                        seed=int(eval_seed.generate_state(1)[0]),
                                        n_grid=settings["n_grid_images"])
        family = family_from_settings(settings, images, synthetic_samples)
        # M = the number of real images (growing: M_n = M (n + 1))
        policy = policy_from_name(policy_name, sample_size=len(images))
        cpu_started = time.process_time()
        history = run_generations(family, RealImages(images), policy, settings["n_generations"],
                                  np.random.default_rng(loop_seed), {"final_loss": _final_loss},
                                  folds={"evaluation": EvaluationFold(evaluator)})
        cpu_seconds = time.process_time() - cpu_started
    return Chain(label=chain_label(policy.label(), synthetic_samples), seed_index=seed_index,
                 metrics={**history.folds["evaluation"].stacked(), **history.metrics},
                 seconds=history.seconds, cpu_seconds=cpu_seconds)


def _progress_line(number: int, total: int, chain: Chain) -> str:
    per_generation = chain.n_generations + 1
    return (f"chain {number}/{total}: {chain.label}, seed {chain.seed_index}: "
            f"{chain.seconds:.0f} s ({chain.seconds / per_generation:.1f} s wall, "
            f"{chain.cpu_seconds / per_generation:.1f} s CPU per generation)")


def run_experiment(settings, policies: Sequence[str] | None = None, n_seeds: int | None = None,
                   n_jobs: int | None = None, progress: Progress | bool | None = None,
                   fixed_image_policies: Sequence[str] = ()) -> dict[str, list[Chain]]:
    """Every (policy, seed) chain, in ``n_jobs`` processes (:func:`collapse.core.jobs.run_jobs`,
    one torch/BLAS thread each; 1 = in this process).

    Returns chain label (:func:`chain_label`) -> list of :class:`Chain` ordered by seed.
    ``fixed_image_policies`` run as well, with ``synthetic_samples="fixed"``, in the same
    process pool. Results do not depend on ``n_jobs``: each chain's randomness comes only from
    its own seed, and every chain runs with one thread. ``progress(line)`` gets one plain-text
    line per finished chain (``True``: print it).
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
    tasks = [(dict(settings), policy, seed, mode) for policy, mode in chains
             for seed in range(n_seeds)]
    finished = []

    def report(index: int, chain: Chain) -> None:
        finished.append(index)
        if progress:
            progress(_progress_line(len(finished), len(tasks), chain))

    results = run_jobs(run_policy, tasks, n_jobs=n_jobs, threads_per_job=1, on_result=report)
    grouped: dict[str, list[Chain]] = {}
    for chain in results:
        grouped.setdefault(chain.label, []).append(chain)
    return grouped


def _print_flushed(line: str) -> None:
    print(line, flush=True)


def real_label_reference(settings) -> dict[str, float]:
    """Class-share entropy and rarest share of the classifier's labels on the *real* images,
    and the classifier's held-out accuracy: the reference values of the mode metrics."""
    images, labels = load_images(settings["dataset"])
    with pinned_threads(1):
        classifier, accuracy = train_classifier(images, labels, seed=settings["seed"])
        shares = label_shares(classifier, images)
    return {"entropy": float(scipy.stats.entropy(shares)), "rarest_share": float(shares.min()),
            "accuracy": accuracy}


# =========================================================================== the chapter
@dataclasses.dataclass
class VAERuns:
    """Everything the VAE chapter simulates: ``chains`` (policy -> chains ordered by seed),
    the loss ablation's `replace` chains (None when the profile has no ablation seeds), the
    classifier's reference values on the real digits (:func:`real_label_reference`), the
    settings that made them, the wall seconds of each step (``timings``) and the chains
    artifact :func:`run` wrote for the escaping chapter."""

    settings: dict
    chains: dict[str, list[Chain]]
    ablation: list[Chain] | None
    label_reference: dict[str, float]
    timings: Timings
    artifact: Path | None = None  # the chains artifact (write_chains_artifact)

    @property
    def replace(self) -> list[Chain]:
        return self.chains["replace"]

    @property
    def n_generations(self) -> int:
        return self.settings["n_generations"]

    @property
    def end(self) -> int:
        """The paper's 5th generation (or the last one, if earlier)."""
        return min(5, self.n_generations)

    @property
    def grid_generations(self) -> list[int]:
        return [g for g in self.settings["grid_generations"] if g <= self.n_generations]

    @property
    def kl_weight(self) -> float:
        return self.settings["kl_weight"]

    @property
    def ablation_kl_weight(self) -> float:
        return self.settings["ablation_kl_weight"]


def run(settings, progress: Progress | None = None) -> VAERuns:
    """Every chain of the chapter: ``settings["policies"]`` x ``n_seeds`` seeds (filed in the
    results folder's chains artifact, :func:`write_chains_artifact`, for the escaping chapter),
    then (when ``ablation_seeds`` > 0) the `replace` ablation with the authors' loss.
    ``progress(line)``: one line per finished chain."""
    timings = Timings()
    with timings("chains"):
        chains = run_experiment(settings, progress=progress)
    artifact = write_chains_artifact(settings, chains)
    reference = real_label_reference(settings)
    ablation = None
    if settings["ablation_seeds"]:
        def ablation_progress(line: str) -> None:
            if progress:
                progress(f"loss ablation, {line}")

        with timings("ablation"):
            ablation = run_experiment(ablation_settings(settings), ["replace"],
                                      n_seeds=settings["ablation_seeds"],
                                      progress=ablation_progress)["replace"]
    return VAERuns(dict(settings), chains, ablation, reference, timings, artifact)


def adam_steps_per_generation(settings) -> int:
    """Adam steps of one generation: epochs x batches of an epoch of the real images."""
    n_real = len(load_images(settings["dataset"])[0])
    return settings["epochs"] * len(batch_sizes_for_epoch(n_real, settings["batch_size"]))


def record_metrics(record, runs: VAERuns) -> None:
    """The chapter's headline numbers for ``vae.json`` (medians over seeds)."""
    results, ablation, last = runs.chains, runs.ablation, runs.n_generations
    checkpoints = [g for g in (1, 5, 10, 20) if g <= last]
    record.metric("latent_spread", {
        policy: {str(g): float(np.median(stack_metric(chains, "latent_spread")[g]))
                 for g in [0] + checkpoints} for policy, chains in results.items()})
    # every chain's latent spread per generation, (N + 1, seeds), and its wall time (the
    # escaping chapter reuses the chains through the chains artifact, not through these)
    record.metric("latent_spread_by_seed", {policy: stack_metric(chains, "latent_spread")
                                            for policy, chains in results.items()})
    record.metric("chain_seconds", {policy: [chain.seconds for chain in chains]
                                    for policy, chains in results.items()})
    record.metric("latent_mean", {
        policy: {str(g): float(np.median(stack_metric(chains, "latent_mean")[g]))
                 for g in [0] + checkpoints} for policy, chains in results.items()})
    record.metric("spread_drop_1_to_5", float(np.median(
        relative_drop(runs.replace, end=runs.end))))
    record.metric("paper_spread_drop_1_to_5", list(PAPER_DROP))
    for name in ("class_entropy", "rarest_share", "frechet"):
        record.metric(name, {policy: median_over_seeds(chains, name)
                             for policy, chains in results.items()})
    if ablation is not None:
        record.metric("ablation_kl_weight", runs.ablation_kl_weight)
        record.metric("ablation_latent_spread", median_over_seeds(ablation, "latent_spread"))
        record.metric("ablation_class_entropy", median_over_seeds(ablation, "class_entropy"))
    record.metric("seconds_per_generation_median",
                  float(np.median(seconds_per_generation(results))))
    record.metric("cpu_seconds_per_generation_median",
                  float(np.median(seconds_per_generation(results, cpu=True))))


# =========================================================================== the chains artifact
CHAIN_SETTINGS = ("seed", "dataset", "n_generations", "capacity", "latent_dim", "epochs",
                  "batch_size", "learning_rate", "weight_decay", "kl_weight", "device",
                  "n_eval_samples", "n_grid_images", "n_seeds", "policies")
"""The settings that decide the chapter's chains (which chains, and every number in them)."""

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
    """File the chapter's chains for other chapters (the escaping chapter reuses them rather
    than rerunning them): an ``.npz`` at :func:`chains_artifact_path`, written atomically,
    with ``labels`` (P,) the chain labels, ``latent_spread`` (P, N + 1, seeds) the latent
    spread per generation and seed, ``seconds`` (P, seeds) each chain's wall time and
    ``settings`` the :data:`CHAIN_SETTINGS` as JSON. Returns the path."""
    labels = list(chains)
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
    the latent spread of ``n_seeds`` chains (:func:`run_policy`, seeds 0 … n_seeds − 1, one
    after another in this process) under ``policy`` with the chapter's ``settings`` (M₀ = the
    number of real images; synthetic images as :func:`synthetic_samples_for` says), shape
    (n_generations + 1, n_seeds).

    ``rng`` and ``real_rng`` are not used: chain s draws from seed index s of
    ``settings["seed"]``, as in the chapter, so every policy shares generation 0 and a chain
    equals the chapter's chain of the same settings (which is what lets the escaping chapter
    reuse them)."""
    chain_settings = {**settings, "n_generations": n_generations}
    samples = synthetic_samples_for(policy, settings)
    chains = [run_policy(chain_settings, policy, seed, samples) for seed in range(n_seeds)]
    return stack_metric(chains, "latent_spread")


# =========================================================================== the chapter's text
def setup_markdown(settings) -> str:
    """"This run": the data set, model, training budget, policies and metric sample size."""
    return (
        f"**This run** (`{settings['profile']}` profile): data set `{settings['dataset']}`; "
        f"capacity {settings['capacity']}, latent dimension {settings['latent_dim']}; KL weight "
        f"{settings['kl_weight']:.3f}; Adam lr {settings['learning_rate']:g}, weight decay "
        f"{settings['weight_decay']:g}, batch {settings['batch_size']}, {settings['epochs']} "
        f"epochs per generation ({adam_steps_per_generation(settings)} Adam steps); generations "
        f"0–{settings['n_generations']}; {settings['n_seeds']} seeds per policy; policies "
        f"{', '.join(settings['policies'])}; {settings['n_eval_samples']} prior samples per "
        f"generation for the metrics.")


def timing_markdown(runs: VAERuns) -> str:
    """What the chains cost: wall and CPU seconds per generation, the machine's load, and the
    classifier's held-out accuracy."""
    seconds = seconds_per_generation(runs.chains)
    cpu_seconds = seconds_per_generation(runs.chains, cpu=True)
    load = os.getloadavg()
    return (
        f"The {sum(len(r) for r in runs.chains.values())} chains took "
        f"{runs.timings['chains']:.0f} s of wall time in {runs.settings['n_jobs']} process(es): "
        f"**{np.median(seconds):.1f} s per generation** of wall time (median over chains; "
        f"training and metrics of one VAE in one process with one thread; range "
        f"{seconds.min():.1f}–{seconds.max():.1f} s), of which {np.median(cpu_seconds):.1f} s "
        f"of CPU time. The machine's load average was {load[0]:.1f} (1 min) / {load[1]:.1f} "
        f"(5 min) on {os.cpu_count()} cores when this cell ran; other jobs share it, so wall "
        f"times are indicative and CPU times the better guide. The digit classifier (logistic "
        f"regression on pixels, trained on 75% of the real digits) is "
        f"{runs.label_reference['accuracy']:.1%} accurate on the held-out 25%.")


def spread_markdown(runs: VAERuns) -> str:
    """The latent spread under `replace`: medians at generations 0, 1, 5 and the last, the
    drop from 1 to 5 against the paper's, and the range of the mean."""
    end, last = runs.end, runs.n_generations
    drops = relative_drop(runs.replace, end=end)
    median_spread = median_over_seeds(runs.replace, "latent_spread")
    median_mean = median_over_seeds(runs.replace, "latent_mean")
    return (
        "Under `replace` the median spread goes " + " → ".join(
            f"{median_spread[g]:.2f} (generation {g})" for g in sorted({0, 1, end, last}))
        + f": from generation 1 to {end} it falls by "
        f"**{np.median(drops):.0%}** (seeds: {', '.join(f'{d:.0%}' for d in drops)}), against "
        f"the paper's 33–38% on MNIST. The mean of the latent means stays between "
        f"{median_mean.min():.2f} and {median_mean.max():.2f}, small against the spread, as in "
        f"the paper.")


def _effective(chains: Sequence[Chain]) -> np.ndarray:
    return effective_classes(median_over_seeds(chains, "class_entropy"))


def modes_markdown(runs: VAERuns) -> str:
    """Which digits disappear under `replace`, how far the samples drift, and the caveat on
    the classifier."""
    end, last, reference = runs.end, runs.n_generations, runs.label_reference
    effective = _effective(runs.replace)
    frechet = median_over_seeds(runs.replace, "frechet")
    rarest = median_over_seeds(runs.replace, "rarest_share")
    shares = stack_metric(runs.replace, "class_shares")
    shares_first, shares_last = shares[0].mean(axis=-1), shares[-1].mean(axis=-1)
    floor = np.median(stack_metric(runs.replace, "frechet_real_halves")[0])
    return (
        f"Generation 0's samples cover {effective[0]:.1f} effective classes, against "
        f"{np.exp(reference['entropy']):.1f} for the classifier's labels of the real digits; its "
        f"rarest digit makes up {rarest[0]:.1%} of the samples (real digits: "
        f"{reference['rarest_share']:.1%}). Under `replace` the rarest digit's share is "
        f"{rarest[min(2, last)]:.1%} at generation {min(2, last)}; the effective number of "
        f"classes is {effective[end]:.1f} at generation {end} and {effective[-1]:.1f} at "
        f"generation {last}, where digit {int(np.argmax(shares_last))} takes "
        f"{shares_last.max():.0%} of the samples; the Fréchet distance goes from "
        f"{frechet[0]:.2f} to {frechet[-1]:.2f} (noise floor {floor:.2f}). A caveat on the "
        f"class metrics: the classifier has only seen clean digits, and a blurred or noisy "
        f"sample gets whichever label its average shape is closest to — already at generation "
        f"0 the classifier calls {shares_first.max():.0%} of the samples digit "
        f"{int(np.argmax(shares_first))}. The class metrics therefore measure blur as well as "
        f"lost digits; the Fréchet distance, which does not use the classifier, moves the same "
        f"way.")


def policies_markdown(runs: VAERuns) -> str:
    """Each policy at the last generation (classes, Fréchet distance, spread), and which ones
    held the distance below twice generation 0's."""
    last = runs.n_generations
    frechet = {policy: median_over_seeds(r, "frechet") for policy, r in runs.chains.items()}
    lines = [
        f"- `{policy}`: at generation {last}, {_effective(r)[-1]:.1f} effective classes, "
        f"Fréchet distance {frechet[policy][-1]:.2f} "
        f"({frechet[policy][-1] / frechet['replace'][-1]:.0%} of replace's), spread "
        f"{median_over_seeds(r, 'latent_spread')[-1]:.2f} (generation 0: "
        f"{median_over_seeds(r, 'latent_spread')[0]:.2f})."
        for policy, r in runs.chains.items()]
    held = [policy for policy in runs.chains if policy != "replace"
            and frechet[policy][-1] < 2 * frechet[policy][0]]
    lines.append(
        f"\nPolicies whose Fréchet distance at generation {last} is still below twice "
        f"generation 0's: {', '.join(f'`{p}`' for p in held) if held else 'none'}. Where real "
        f"data slow the drift without stopping it, two features of this setup are candidates "
        f"(not tested here): the VAE's own approximation error — blurred decoder means — "
        f"enters every generation, and `accumulate` trains on a fixed budget, so real images "
        f"are only 1/(k+1) of each batch at generation k, whereas the follow-up studies train "
        f"on the whole growing pool.")
    return "\n".join(lines)


def ablation_markdown(runs: VAERuns) -> str:
    """Generations 0, 1 and the last of the ablation (the authors' loss) against the book's
    weight; or why there is no ablation in this profile."""
    if runs.ablation is None:
        return "The ablation is not part of this profile (ablation_seeds = 0)."
    spread = median_over_seeds(runs.ablation, "latent_spread")
    classes = _effective(runs.ablation)
    book_spread = median_over_seeds(runs.replace, "latent_spread")
    book_classes = _effective(runs.replace)
    return (
        f"With the authors' loss, generation 0's samples cover {classes[0]:.1f} "
        f"effective classes (book weight: {book_classes[0]:.1f}) and spread "
        f"{spread[0]:.2f} in its latent space (book weight: {book_spread[0]:.2f}). "
        f"Generation 1 covers {classes[1]:.1f} effective classes (book weight: "
        f"{book_classes[1]:.1f}) and generation {len(classes) - 1} "
        f"{classes[-1]:.1f} (book weight: {book_classes[len(classes) - 1]:.1f}).")
