"""The curation chapter's figures. Each function takes the chapter's runs
(:class:`~collapse.curation.experiments.CurationRuns`) and returns a matplotlib figure in the
book's style: simulation medians (or Monte-Carlo means, where the theory is an expectation)
with 10–90% bands, exact theory dashed over them.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from ..core.stats import mc_mean_with_se
from ..publish import plotting
from . import theory
from .experiments import CurationRuns

__all__ = ["verification_loops_figure", "verification_sweep_figure", "ring_figure",
           "best_of_k_figure", "modes_figure", "correction_figure"]


# =============================================================================== verification
def verification_loops_figure(runs: CurationRuns):
    """Accuracy on the truth against generation for every verification loop (median, 10–90%
    band), the population recursion of the linear verifiers dashed and each one's own
    accuracy dotted; left the whole range, right the linear verifiers close up."""
    verification = runs.verification
    fig, axes = plotting.subplots(1, 2, width=11, height=4.0)
    for panel, ax in enumerate(axes[0]):
        for index, (label, kind, angle) in enumerate(verification.loop_specs):
            if panel and kind != "linear":
                continue
            values = verification.loops[label]
            generations = np.arange(values.shape[0])
            colour = plotting.color(index)
            plotting.band(ax, generations, values, label=label, color=colour)
            if kind != "linear":
                continue
            exact = theory.population_accuracy(verification.truth, verification.label_noise,
                                               len(generations) - 1, ("linear", angle))
            plotting.theory(ax, generations, exact, label="population recursion"
                            if index == 1 else None, color=colour, linewidth=1.0)
            ax.axhline(special.ndtr(verification.mean_norm * np.cos(np.radians(angle))),
                       color=colour, linestyle=":", linewidth=1.0)
        ax.axhline(verification.optimal, color="#777777", linestyle="-.", linewidth=1.0,
                   label=f"Bayes optimum Φ(‖μ‖) = {verification.optimal:.3f}")
        ax.set(xlabel="generation n", ylabel="accuracy on the truth")
    left, right = axes[0]
    left.axhline(0.5, color="#777777", linewidth=0.8)
    left.set(ylim=(0, 1), title=f"labels flipped with p = {verification.label_noise:g}")
    left.legend(loc="lower left", fontsize=7, ncol=2)
    right.set(ylim=(0.58, 0.95), title="linear verifiers; dotted: the verifier's own accuracy")
    return fig


def _blind_rates(mean_norm: float, angle: float) -> tuple[float, float]:
    keep = float(special.ndtr(mean_norm * np.cos(np.radians(angle))))
    return keep, 1 - keep


def verification_sweep_figure(runs: CurationRuns):
    """One round of selection. Left: accuracy against the verifier's angle θ for the linear
    and the x-blind verifier (MC mean, 10–90% band; population theory dashed), θ* (p* = ½)
    and θ_lin marked. Right: the same accuracies against the proxy p*."""
    verification = runs.verification
    angles, norm, noise = verification.sweep_angles, verification.mean_norm, \
        verification.label_noise
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.9)
    left, right = axes[0]
    fine = np.linspace(0, 180, 361)
    p_star = theory.proxy(noise, *theory.linear_keep_rates(norm * np.cos(np.radians(angles))))
    names = {"linear": "linear verifier", "independent": "x-blind verifier (same ψ, φ)"}
    for index, (kind, label) in enumerate(names.items()):
        values, colour = verification.sweep[kind], plotting.color(index + 1)
        mean, _ = mc_mean_with_se(values, axis=1)
        low, high = np.quantile(values, [0.1, 0.9], axis=1)
        left.plot(angles, mean, "o-", markersize=3, color=colour, label=label)
        left.fill_between(angles, low, high, color=colour, alpha=0.2, linewidth=0)
        plotting.theory(left, fine, theory.one_round_accuracy(norm, noise, fine, kind),
                        label="population theory" if index == 0 else None, color=colour,
                        linewidth=1.0)
        right.plot(p_star, mean, "o", markersize=3.5, color=colour, label=label)
    generator = float(np.median(verification.generator))
    left.axhline(generator, color=plotting.color(0), linestyle="-.", linewidth=1.0,
                 label=f"generator: {verification.sample_size:,} real points")
    left.plot(angles, special.ndtr(norm * np.cos(np.radians(angles))), color="#777777",
              linestyle=":", label="the verifier itself: Φ(‖μ‖ cos θ)")
    for angle, text in ((theory.proxy_transition_angle(norm, noise), "θ*: p* = ½"),
                        (theory.linear_transition_angle(norm, noise), "θ_lin")):
        if angle is not None:
            left.axvline(angle, color="#444444", linewidth=0.8)
            left.text(angle + 1.5, 0.52, text, fontsize=8, rotation=90)
    left.set(xlabel="verifier angle θ to the truth (degrees)", ylabel="accuracy after one round",
             xlim=(0, 180), title="one round of verified synthetic data")
    left.legend(loc="lower left", fontsize=7)
    right.axvline(0.5, color="#444444", linewidth=0.8)
    right.axhline(0.5, color="#777777", linewidth=0.8)
    right.set(xlabel="proxy p* = share of correct labels among the kept",
              ylabel="accuracy after one round (MC mean)", title="the proxy p*")
    right.legend(loc="lower right", fontsize=7.5)
    return fig


# =============================================================================== best-of-K
def ring_figure(runs: CurationRuns):
    """Training points of the first seed at the snapshot generations, for the largest K with
    λ = 0 (top) and with the largest λ (bottom); the reward's maximisers x₁ = a dashed."""
    best = runs.best_of_k
    k = max(key[0] for key in best.configurations)
    fractions = sorted({key[1] for key in best.configurations})
    rows = [(k, fractions[0]), (k, fractions[-1])]
    generations = sorted(best.snapshots[rows[0]])
    fig, axes = plotting.subplots(len(rows), len(generations), width=10.5,
                                  height=2.3 * len(rows) + 0.3, sharex=True, sharey=True)
    limit, level = best.measures.grid.limit, best.measures.reward.level
    for row, key in enumerate(rows):
        for column, generation in enumerate(generations):
            ax = axes[row, column]
            points = best.snapshots[key][generation]
            ax.scatter(points[:, 0], points[:, 1], s=1.5, alpha=0.4,
                       color=plotting.color(row + 1), rasterized=True)
            ax.axvline(level, color="#222222", linestyle="--", linewidth=0.8)
            ax.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal")
            ax.set_title(f"K = {key[0]}, λ = {key[1]:g}: n = {generation}", fontsize=8.5)
            ax.grid(False)
            if column:
                ax.tick_params(labelleft=False)
    return fig


def best_of_k_figure(runs: CurationRuns):
    """Left: the expected reward's distance to its maximum, −E_t[r], against generation (MC
    mean, 10–90% band) for every (K, λ), the exact recursion dashed, the K → ∞ tilt p₀eᵗʳ
    dotted. Right: the mass near the maximisers, the same way."""
    best = runs.best_of_k
    fig, axes = plotting.subplots(1, 2, width=10.5, height=4.0)
    reward_ax, mass_ax = axes[0]
    generations = np.arange(best.n_generations + 1)
    panels = ((reward_ax, "expected_reward", -1), (mass_ax, "mass_near_maximisers", 1))
    for index, key in enumerate(best.configurations):
        colour = plotting.color(index)
        for ax, name, sign in panels:
            values = sign * best.histories[key][name]
            low, high = np.quantile(values, [0.1, 0.9], axis=1)
            ax.plot(generations, values.mean(axis=1), "-" if key[1] == 0 else "--",
                    color=colour, label=f"K = {key[0]}, λ = {key[1]:g}")
            ax.fill_between(generations, low, high, color=colour, alpha=0.15, linewidth=0)
            ax.plot(generations, sign * best.theory[key][name], color="#222222", linewidth=0.9,
                    linestyle=(0, (3, 2)), label="exact recursion" if index == 0 else None)
    for ax, name, sign in panels:
        ax.plot(generations, sign * best.tilt[name], color="#777777", linestyle=":",
                linewidth=1.6, label="K → ∞, λ = 0: p₀ eᵗʳ")
    reward_ax.set(xlabel="generation t", ylabel="−E_t[r]  (0: all mass on the maximisers)",
                  yscale="log", title="expected reward: its distance to the maximum")
    mass_ax.set(xlabel="generation t", ylabel=f"mass within {best.measures.band:g} of x₁ = a",
                ylim=(0, 1.02), title="mass on the reward's maximisers")
    mass_ax.legend(fontsize=7.5, loc="lower right", ncol=2)
    return fig


def modes_figure(runs: CurationRuns):
    """The mass of each ring mode at the last generation (median over seeds), for the largest
    K without and with real data, against the exact recursion."""
    best = runs.best_of_k
    fig, axes = plotting.subplots(1, 1, width=7, height=3.6)
    ax = axes[0, 0]
    k = max(key[0] for key in best.configurations)
    fractions = sorted({key[1] for key in best.configurations})
    modes = np.arange(best.measures.ring.n_modes)
    for offset, fraction in zip((-0.2, 0.2), (fractions[0], fractions[-1])):
        key = (k, fraction)
        ax.bar(modes + offset, np.median(best.histories[key]["mode_masses"][-1], axis=0),
               width=0.38, label=f"K = {k}, λ = {fraction:g}",
               color=plotting.color(1 if fraction == 0 else 4))
        ax.plot(modes + offset, best.theory[key]["mode_masses"][-1], "k_", markersize=10,
                label="exact recursion" if fraction == fractions[0] else None)
    ax.axhline(1 / len(modes), color="#777777", linestyle=":", linewidth=1.0,
               label=f"p₀: 1/{len(modes)} each")
    ax.set(xlabel="ring mode (0 on the maximisers' line, counter-clockwise)",
           ylabel=f"mass at t = {best.n_generations}", yscale="log", ylim=(1e-4, 1.5),
           title="which modes survive")
    ax.legend(fontsize=7.5, loc="upper center", ncol=2)
    return fig


# =============================================================================== correction
def correction_figure(runs: CurationRuns):
    """Left: MC mean offset E[mₙ − μ] against generation for every γ (projection solid,
    mixture markers; each curve stops where the exact offset falls below 3 SE of the Monte-
    Carlo mean), exact δ(1 + γ)⁻ⁿ dashed. Right: correction strength against drift:
    median W2 to the truth at the last generation (10–90% bars) and median σ_N."""
    correction = runs.correction
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.9)
    left, right = axes[0]
    for index, gamma in enumerate(correction.gammas):
        colour = plotting.color(index)
        generations = correction.histories["projection", gamma].generations
        exact = theory.offset_decay(correction.offset, gamma, len(generations) - 1)
        for name, style in (("projection", "-"), ("mixture", "o")):
            if (name, gamma) not in correction.histories:
                continue
            mean, se = mc_mean_with_se(correction.histories[name, gamma]["mean"], axis=1)
            shown = exact >= 3 * se          # above the Monte-Carlo noise floor
            left.plot(generations[shown], mean[shown], style, markersize=2.5, color=colour,
                      label=f"γ = {gamma:g}" if name == "projection" else None,
                      markevery=3 if name == "mixture" else None)
        plotting.theory(left, generations, exact, label="δ(1 + γ)⁻ⁿ" if index == 0 else None,
                        linewidth=0.9)
    left.set(xlabel="generation n", ylabel="MC mean of mₙ − μ", yscale="log",
             ylim=(1e-3, 2), title=f"offset δ = {correction.offset:g} (dots: mixture corrector)")
    left.legend(fontsize=7, loc="lower right", ncol=2)
    positions = np.arange(len(correction.gammas))
    for shift, name in ((-0.12, "projection"), (0.12, "mixture")):
        w2 = [np.hypot(correction.histories[name, g]["mean"][-1],
                       correction.histories[name, g]["std"][-1] - 1) for g in correction.gammas]
        median = np.array([np.median(values) for values in w2])
        low = np.array([np.quantile(values, 0.1) for values in w2])
        high = np.array([np.quantile(values, 0.9) for values in w2])
        right.errorbar(positions + shift, median, yerr=[median - low, high - median], fmt="o",
                       capsize=3, label=f"W2, {name}",
                       color=plotting.color(0 if name == "projection" else 1))
        sigma = [np.median(correction.histories[name, g]["std"][-1]) for g in correction.gammas]
        right.plot(positions + shift, sigma, "s", markerfacecolor="none", markersize=5,
                   color=plotting.color(0 if name == "projection" else 1),
                   label=f"median σ_N, {name}")
    right.axhline(1, color="#777777", linestyle=":", linewidth=1.0)
    right.set_xticks(positions, [f"{g:g}" for g in correction.gammas])
    right.set(xlabel="correction strength γ", ylabel="at the last generation",
              yscale="log", title=f"correction strength against drift (M = "
                                  f"{correction.sample_size})")
    right.legend(fontsize=7, loc="lower left")
    return fig
