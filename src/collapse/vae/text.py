"""The VAE chapter's computed text: every number the prose shows comes from here, read from the
run (:class:`collapse.vae.experiments.VAERuns`) or the settings."""
from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np

from .chains import Chain, median_over_seeds, relative_drop, seconds_per_generation, \
    stack_metric
from .claims import GATE, PAPER_DROP, PAPER_SPREAD, gate_parts, seed_interval, \
    smallest_passing_budget
from .data import resolve_dataset
from .evaluation import effective_classes
from .experiments import VAERuns, arm_settings, chain_inputs, policy_generations

__all__ = ["key_numbers", "setup_markdown", "timing_markdown", "gate_markdown", "spread_markdown",
           "modes_markdown", "mitigation_markdown", "adam_steps"]

_NETWORKS = {"conv": "the authors' convolutional VAE (two stride-2 convolutions), capacity "
                     "{capacity}",
             "mlp": "a fully connected VAE {pixels}–{capacity}–{latent} (Kingma & Welling's "
                    "network)"}
_DATASETS = {"digits": "scikit-learn's 8×8 digits", "mnist-10k": "the 10,000 real MNIST digits "
             "of the data root (`mnist-10k`)", "mnist-full": "full MNIST (60,000 training "
             "digits; held-out digits from its test split)"}


def adam_steps(settings, n_train: int) -> int:
    """Adam steps of one generation trained on an epoch of ``n_train`` images."""
    return settings["epochs"] * math.ceil(n_train / settings["batch_size"])


def _network(settings, pixels: int) -> str:
    return _NETWORKS[settings["architecture"]].format(
        capacity=settings["capacity"], pixels=pixels, latent=settings["latent_dim"])


def _epochs(count: int) -> str:
    return f"{count} epoch{'' if count == 1 else 's'}"


def setup_markdown(settings) -> str:
    """"This run": the data, the two arms' networks and budgets, the seeds and policies."""
    split, _ = chain_inputs(settings)
    n_train = len(split.train_images)
    arms = []
    for arm, name in (("authors", "The authors' arm"), ("long", "The long arm")):
        chosen = arm_settings(settings, arm)
        arms.append(
            f"- **{name}**: {_network(chosen, split.train_images[0].numel())}; "
            f"{_epochs(chosen['epochs'])} per generation "
            f"({adam_steps(chosen, n_train):,} Adam steps); {chosen['n_seeds']} seeds; "
            + "; ".join(f"`{policy}` for generations 0–{policy_generations(chosen, policy)}"
                        for policy in chosen['policies']) + ".")
    return (
        f"**This run** (`{settings['profile']}` profile): "
        f"{_DATASETS[resolve_dataset(settings['dataset'])]}, split with a seed into "
        f"{n_train:,} training and {len(split.test_images):,} held-out digits. Loss: pixel BCE "
        f"+ KL with weight {settings['kl_weight']:g}; Adam lr {settings['learning_rate']:g}, "
        f"weight decay {settings['weight_decay']:g}, batch {settings['batch_size']}; latent "
        f"dimension {settings['latent_dim']}; {settings['n_eval_samples']:,} prior samples per "
        f"generation for the metrics.\n\n" + "\n".join(arms)
        + f"\n\nPolicies whose training budget grows with the pool (an epoch is one pass over "
        f"the pool's size): {', '.join(f'`{p}`' for p in settings['pool_budget']) or 'none'}.")


def timing_markdown(runs: VAERuns) -> str:
    """What the jobs cost: wall time of the pool of workers, seconds per generation for each
    arm, the ladders' training speed, and the machine's load."""
    load = os.getloadavg()
    speeds = "; ".join(
        f"{arm}: {ladder.images_per_second:,.0f}" for arm, ladder in runs.ladders.items())
    long_seconds = seconds_per_generation(runs.chains)
    authors_seconds = seconds_per_generation({"replace": runs.authors})
    return (
        f"All {sum(len(c) for c in runs.chains.values()) + len(runs.authors) + 2} jobs took "
        f"{runs.timings['chains']:.0f} s of wall time in {runs.settings['n_jobs']} worker "
        f"process(es) with one thread each. Median wall seconds per generation (training and "
        f"metrics): authors' arm {np.median(authors_seconds):.1f}, long arm "
        f"{np.median(long_seconds):.1f} (`accumulate` generations grow with the pool). "
        f"Training speed in the ladders, images per CPU second: {speeds}. The machine's load "
        f"average was {load[0]:.1f} (1 min) / {load[1]:.1f} (5 min) on {os.cpu_count()} cores "
        f"when this cell ran; other jobs share it, so wall times are indicative.")


def _gate_row(arm: str, runs: VAERuns) -> str:
    gate, ladder = runs.gates[arm], runs.ladders[arm]
    parts = gate_parts(gate)
    budget = ladder.budget
    smallest = smallest_passing_budget({
        "ladder_elbo": ladder.elbo, "reconstruction_accuracy": ladder.reconstruction_accuracy,
        "coverage": ladder.coverage, "real_accuracy": gate["real_accuracy"],
        "real_coverage": gate["real_coverage"]})
    best = float(np.min(ladder.elbo[:2 * budget]))
    return (f"| {arm} | {budget} | {ladder.elbo[budget - 1]:.1f} (best within {2 * budget}: "
            f"{best:.1f}) | {np.min(gate['reconstruction_accuracy']):.1%} "
            f"(≥ {GATE['accuracy_share'] * gate['real_accuracy']:.1%}) | "
            f"{np.min(gate['coverage']):.2f} (≥ {GATE['coverage_share'] * gate['real_coverage']:.2f})"
            f" | {smallest if smallest is not None else 'none'} | "
            f"{'yes' if all(parts.values()) else 'no: ' + ', '.join(n for n, ok in parts.items() if not ok)} |")


def gate_markdown(runs: VAERuns) -> str:
    """The gate, per arm: the budget E, the held-out ELBO at E against the best within 2E,
    the worst chain's reconstruction accuracy and sample coverage against their thresholds, the
    smallest budget that passes on the ladder, and whether the arm passes."""
    reference = runs.classifier
    return (
        f"The classifier is {reference['accuracy']:.1%} accurate on the held-out real digits, "
        f"whose labels have {math.exp(reference['entropy']):.2f} effective classes.\n\n"
        "| arm | budget E (epochs) | held-out −ELBO at E (nats) | reconstruction accuracy, "
        "worst seed | effective classes of samples, worst seed | smallest passing budget "
        "on the ladder | passes |\n|---|---|---|---|---|---|---|\n"
        + "\n".join(_gate_row(arm, runs) for arm in runs.ladders))


def _interval(values: np.ndarray, percent: bool = False) -> str:
    low, high = seed_interval(values)
    middle = float(np.median(values))
    return (f"{middle:.0%} [{low:.0%}, {high:.0%}]" if percent
            else f"{middle:.2f} [{low:.2f}, {high:.2f}]")


def key_numbers(runs: VAERuns) -> dict[str, str]:
    """The chapter's headline numbers for the key-results box (median [90% seed-bootstrap
    interval] over seeds): the authors' arm's spread drop beside the stored runs', the long
    arm's effective digit classes and Fréchet-distance growth under `replace`."""
    end, last = runs.authors_end, runs.n_generations
    drops = relative_drop(runs.authors, end=end)
    effective = effective_classes(stack_metric(runs.replace, "class_entropy"))
    frechet = stack_metric(runs.replace, "frechet")
    return {
        f"Latent spread, drop from generation 1 to {end} (authors' arm)":
            f"{_interval(drops, True)}; the authors' stored runs: "
            f"{PAPER_DROP[0]:.0%}–{PAPER_DROP[1]:.0%}",
        f"Effective digit classes $e^H$, generation 0 → {last} (long arm, replace)":
            f"{np.median(effective[0]):.1f} → {_interval(effective[-1])}",
        f"Fréchet distance to real digits, generation {last} / generation 1":
            _interval(frechet[-1] / frechet[1]),
    }


def spread_markdown(runs: VAERuns) -> str:
    """The authors' arm's latent spread per generation (median [90% interval]) against the
    stored runs, and its drop from generation 1 to 5."""
    spread, end = stack_metric(runs.authors, "latent_spread"), runs.authors_end
    drops = relative_drop(runs.authors, end=end)
    return (
        "Authors' arm, `replace` (median [90% seed-bootstrap interval] over "
        f"{spread.shape[-1]} seeds): " + " → ".join(
            f"{_interval(spread[g])} (generation {g})" for g in range(len(spread)))
        + f". From generation 1 to {end} the spread falls by {_interval(drops, True)}; the "
        f"authors' stored runs: {PAPER_SPREAD[1][0]:.2f}–{PAPER_SPREAD[1][1]:.2f} → "
        f"{PAPER_SPREAD[5][0]:.2f}–{PAPER_SPREAD[5][1]:.2f}, a drop of "
        f"{PAPER_DROP[0]:.0%}–{PAPER_DROP[1]:.0%}. The mean of the latent means stays between "
        f"{median_over_seeds(runs.authors, 'latent_mean').min():.2f} and "
        f"{median_over_seeds(runs.authors, 'latent_mean').max():.2f}.")


def _effective(chains: Sequence[Chain]) -> np.ndarray:
    return effective_classes(median_over_seeds(chains, "class_entropy"))


def modes_markdown(runs: VAERuns) -> str:
    """Which digits disappear under the long arm's `replace`, how far the samples drift, and
    how well the last generation still models real digits."""
    last, reference = runs.n_generations, runs.classifier
    effective = _effective(runs.replace)
    frechet = median_over_seeds(runs.replace, "frechet")
    rarest = median_over_seeds(runs.replace, "rarest_share")
    elbo = median_over_seeds(runs.replace, "heldout_elbo")
    shares_last = stack_metric(runs.replace, "class_shares")[-1].mean(axis=-1)
    floor = np.median(stack_metric(runs.replace, "frechet_real_halves")[0])
    marks = sorted({0, 5, 10, last} & set(range(last + 1)))
    return (
        "Long arm, `replace` (medians over seeds): effective classes " + " → ".join(
            f"{effective[g]:.1f} (gen {g})" for g in marks)
        + f" (real digits: {math.exp(reference['entropy']):.1f}); the rarest digit's share "
        f"{rarest[0]:.1%} at generation 0 and {rarest[-1]:.1%} at generation {last} (real "
        f"digits: {reference['rarest_share']:.1%}); at generation {last} digit "
        f"{int(np.argmax(shares_last))} takes {shares_last.max():.0%} of the samples. The "
        f"Fréchet distance goes " + " → ".join(f"{frechet[g]:.2f}" for g in marks)
        + f" (noise floor {floor:.3f}); the held-out digits' negative ELBO "
        + " → ".join(f"{elbo[g]:.0f}" for g in marks) + " nats. A caveat on the class "
        "metrics: the classifier has only seen real digits, and a blurred sample gets whichever "
        "label its average shape is closest to; the Fréchet distance and the ELBO do not use "
        "the classifier.")


def mitigation_markdown(runs: VAERuns) -> str:
    """Each policy at the mitigation horizon against `replace` at the same generation (same
    seeds): Fréchet distance and spread ratios with their intervals, effective classes,
    held-out ELBO."""
    end = runs.mitigation_end
    base_fd = stack_metric(runs.replace, "frechet")[end]
    base_spread = stack_metric(runs.replace, "latent_spread")[end]
    lines = [f"At generation {end}, against `replace` (per seed, median [90% interval]): "]
    for policy, chains in runs.chains.items():
        fd, spread = (stack_metric(chains, name)[end] for name in ("frechet", "latent_spread"))
        elbo = median_over_seeds(chains, "heldout_elbo")[:end + 1]
        ratios = ("" if policy == "replace" else
                  f"FD ×{_interval(fd / base_fd)} of replace's, spread "
                  f"×{_interval(spread / base_spread)}; ")
        lines.append(
            f"- `{policy}`: {ratios}FD {np.median(fd):.2f}, spread {np.median(spread):.2f} "
            f"(generation 0: {median_over_seeds(chains, 'latent_spread')[0]:.2f}), "
            f"{_effective(chains)[end]:.1f} effective classes, held-out −ELBO {elbo[-1]:.0f} "
            f"nats (generation 0: {elbo[0]:.0f}).")
    return "\n".join(lines)
