"""The curation chapter's text cells: the setup table and the sentences built from the runs
(:class:`~collapse.curation.experiments.CurationRuns`), as Markdown strings."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy import special

from . import theory
from .experiments import CurationRuns

__all__ = ["setup_markdown", "verification_summary", "best_of_k_summary",
           "correction_summary"]


def setup_markdown(settings: Mapping[str, Any]) -> str:
    """The three experiments' settings as a Markdown table."""
    optimal = special.ndtr(settings["mean_norm"])
    loops = ", ".join("unfiltered" if kind == "unfiltered" else f"{kind} {angle:g}°"
                      for kind, angle in settings["verification_loops"])
    rows = [
        ("verification (Feng et al.)",
         f"d = {settings['dims']}, ‖μ‖ = {settings['mean_norm']:g} (Bayes accuracy "
         f"{optimal:.3f}), labels flipped with p = {settings['label_noise']:g}",
         f"M = {settings['sample_size']:,} kept points per generation, {settings['n_seeds']} "
         f"seeds × {settings['n_generations']} generations ({loops}); one round at "
         f"{len(settings['sweep_angles'])} angles, M = {settings['sweep_sample_size']:,}, "
         f"{settings['sweep_seeds']} seeds"),
        ("best-of-K (Ferbach et al.)",
         f"{settings['ring_modes']} Gaussians (sd {settings['ring_sd']:g}) on a circle of "
         f"radius {settings['ring_radius']:g}; r(x) = −(x₁ − {settings['reward_level']:g})²"
         f"/(2·{settings['reward_width']:g}²); a GMM with {settings['ring_modes']} components",
         f"K ∈ {settings['choices']}, λ ∈ {settings['real_fractions']}; M = "
         f"{settings['ring_sample_size']:,} points per generation, {settings['ring_seeds']} "
         f"seeds × {settings['ring_generations']} generations"),
        ("self-correction (Gillman et al.)",
         f"1-D Gaussian, truth N(0, 1), generation 0 fitted to N({settings['correction_offset']:g}"
         ", 1) data",
         f"γ ∈ {settings['gammas']}, correctors {', '.join(settings['correctors'])}; M = "
         f"{settings['correction_sample_size']} points per generation, "
         f"{settings['correction_seeds']:,} seeds × {settings['correction_generations']} "
         "generations"),
    ]
    lines = ["| experiment | data and model | scale |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def verification_summary(runs: CurationRuns) -> str:
    """Medians at the last generation and the two transition angles."""
    verification = runs.verification
    last = {label: float(np.median(values[-1])) for label, values in verification.loops.items()}
    n_last = next(iter(verification.loops.values())).shape[0] - 1
    proxy_angle = theory.proxy_transition_angle(verification.mean_norm,
                                                verification.label_noise)
    linear_angle = theory.linear_transition_angle(verification.mean_norm,
                                                  verification.label_noise)
    loops = "; ".join(f"{label}: {value:.3f}" for label, value in last.items())
    return (f"Median accuracy at generation {n_last} — {loops} (Bayes optimum "
            f"{verification.optimal:.3f}, chance 0.5). One round: p∗ = ½ at θ∗ = "
            f"{_angle(proxy_angle)}; the linear verifier's exact transition θ_lin = "
            f"{_angle(linear_angle)}.")


def _angle(angle: float | None) -> str:
    return "none" if angle is None else f"{angle:.1f}°"


def best_of_k_summary(runs: CurationRuns) -> str:
    """Per (K, λ): the mass near the maximisers and the modes kept at the last generation."""
    best, lines = runs.best_of_k, []
    for key in best.configurations:
        history, exact = best.histories[key], best.theory[key]
        modes = np.median((history["mode_masses"][-1] > 0.01).sum(axis=-1))
        reward = history["expected_reward"]
        lines.append(
            f"- K = {key[0]}, λ = {key[1]:g}: expected reward {reward[0].mean():.2f} → "
            f"{reward[-1].mean():.3f} (exact {exact['expected_reward'][-1]:.3f}); "
            f"mass near the maximisers {np.median(history['mass_near_maximisers'][-1]):.3f} "
            f"(exact {exact['mass_near_maximisers'][-1]:.3f}); modes with more than 1% of the "
            f"mass: {modes:g} of {best.measures.ring.n_modes}.")
    return "\n".join(lines)


def correction_summary(runs: CurationRuns) -> str:
    """Per γ: the median σ_N and W2 at the last generation (projection corrector)."""
    correction = runs.correction
    parts = []
    for gamma in correction.gammas:
        history = correction.histories["projection", gamma]
        w2 = np.median(np.hypot(history["mean"][-1], history["std"][-1] - 1))
        parts.append(f"γ = {gamma:g}: median σ_N {np.median(history['std'][-1]):.3f}, "
                     f"W2 {w2:.3f}")
    n_last = correction.histories["projection", correction.gammas[0]].n_generations
    return f"At generation {n_last} (projection corrector): " + "; ".join(parts) + "."
