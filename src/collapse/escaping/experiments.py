"""Everything the escaping chapter runs: every family under every data policy, one loop.

:func:`plan_runs` lists the (family, policy) runs the settings ask for; :func:`run` runs them
all as jobs of :func:`collapse.core.jobs.run_jobs`, each through its family's ``policy_run``
(the protocol :class:`collapse.core.experiment.PolicyRunner`: ``gaussian``, ``discrete``,
``gmm`` and ``vae`` each implement it in their ``experiments`` module), and returns
:class:`EscapingRuns`. A run's streams are ``rng_for(seed, "escaping", family, label)`` (the
loop) and ``rng_for(seed, "escaping", family, "real")`` (generation 0's data, shared by a
family's runs). The VAE chains the VAE chapter filed with the same settings
(:func:`collapse.vae.experiments.read_chains_artifact`) are reused, not rerun.

Only this module and :mod:`.claims` read profile settings.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..core.experiment import Progress
from ..core.jobs import run_jobs
from ..core.seeds import rng_for
from ..discrete import experiments as discrete_experiments
from ..gaussian import experiments as gaussian_experiments
from ..gmm import experiments as gmm_experiments
from ..language_model import experiments as language_model_experiments
from ..publish import profiles
from ..vae import experiments as vae_experiments
from .comparison import (FAMILIES, FIXED_REPLACE_LABEL, FamilyComparison, FamilyRun,
                         parse_policy, policy_label, window_for)
from .theory import gaussian_mix_real_threshold

__all__ = ["POLICY_RUNNERS", "POOLED_POLICIES", "policy_names", "vae_settings", "PlannedRun",
           "plan_runs", "scale_generations", "streams", "run_planned", "VAEReuse", "vae_reuse",
           "EscapingRuns", "gaussian_moments", "run", "record_metrics"]

POLICY_RUNNERS = {"gaussian": gaussian_experiments, "discrete": discrete_experiments,
                  "gmm": gmm_experiments, "vae": vae_experiments,
                  "language_model": language_model_experiments}
"""family -> the module whose ``policy_run`` runs it."""

POOLED_POLICIES = ("accumulate", "growing")
"""Policies whose training set grows with the generation (the GMM runs them at a smaller
scale: batched EM on pools of up to (N + 1)·M points per seed costs O(N²))."""


def policy_names(fractions: Sequence[float]) -> list[str]:
    """replace, accumulate, accumulate_subsample, growing, and mix_real(f) for every f > 0 of
    ``fractions`` (mix_real(0) is replace), as names
    :func:`~collapse.core.policies.policy_from_name` accepts (checked here)."""
    names = ["replace", "accumulate", "accumulate_subsample", "growing"]
    names += [f"mix_real({f:g})" for f in sorted(set(fractions)) if f > 0]
    for name in names:
        parse_policy(name)  # a bad fraction fails before any work
    return names


def vae_settings(settings: Mapping[str, Any]) -> dict:
    """The VAE chapter's settings under the same profile, with the chapter's ``vae_overrides``
    and ``vae_generations`` generations: the chains this chapter compares."""
    return {**profiles.settings("vae", settings["profile"]), **settings["vae_overrides"],
            "n_generations": settings["vae_generations"]}


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One family under one policy: the arguments of the family's ``policy_run``."""

    family: str
    label: str
    policy: str
    n_seeds: int
    n_generations: int
    settings: Mapping[str, Any]


def plan_runs(settings: Mapping[str, Any]) -> list[PlannedRun]:
    """Every (family, policy) run of the chapter, families in :data:`FAMILIES` order, from
    its settings: every family under :func:`policy_names` of its fractions; the GMM's
    :data:`POOLED_POLICIES` on ``gmm_pool_seeds`` seeds for ``gmm_pool_generations``; and
    for the VAE also replace on a fixed set of M₀ decoded images (:data:`FIXED_REPLACE_LABEL`,
    the baseline of its `growing`, which runs on fixed sets)."""
    n, pool_seeds = settings["n_generations"], settings["gmm_pool_seeds"]
    scale = {  # family -> (seeds, generations, its policy_run settings)
        "gaussian": (settings["gaussian_seeds"], n,
                     {"sample_size": settings["gaussian_sample_size"]}),
        "discrete": (settings["discrete_chains"], n,
                     {"n_states": settings["discrete_states"],
                      "sample_size": settings["discrete_sample_size"]}),
        "gmm": (settings["gmm_seeds"], n,
                {"n_points": settings["gmm_points"], "setup": "two_gaussians"}),
        "vae": (settings["vae_seeds"], settings["vae_generations"], vae_settings(settings)),
        "language_model": (settings["language_model_seeds"],
                           settings["language_model_generations"],
                           profiles.settings("language_model", settings["profile"]))}
    plans = []
    for family in FAMILIES:
        n_seeds, generations, options = scale[family]
        fractions = settings.get(f"{family}_fractions", settings["fractions"])
        for name in policy_names(fractions):
            seeds, length = n_seeds, generations
            if family == "gmm" and name in POOLED_POLICIES:
                seeds = min(pool_seeds or n_seeds, n_seeds)
                length = min(settings["gmm_pool_generations"] or n, n)
            plans.append(PlannedRun(family, policy_label(name), name, seeds, length, options))
    n_seeds, generations, options = scale["vae"]
    plans.append(PlannedRun("vae", FIXED_REPLACE_LABEL, "replace", n_seeds, generations,
                            {**options, "synthetic_samples": "fixed"}))
    return plans


def scale_generations(settings: Mapping[str, Any], family: str) -> int:
    """A family's number of generations N (the VAE's ``vae_generations``, the language
    model's ``language_model_generations``)."""
    return settings.get(f"{family}_generations", settings["n_generations"])


def streams(seed: int, plan: PlannedRun) -> tuple[np.random.Generator, np.random.Generator]:
    """(the loop's stream, generation 0's data stream) of ``plan``: ``rng_for(seed,
    "escaping", family, label)`` and ``rng_for(seed, "escaping", family, "real")``, the latter
    shared by every run of the family (so they start from the same data)."""
    return (rng_for(seed, "escaping", plan.family, plan.label),
            rng_for(seed, "escaping", plan.family, "real"))


def run_planned(plan: PlannedRun, seed: int) -> tuple[np.ndarray, float]:
    """(the family's measure (N + 1, S), wall seconds) of one planned run, through its
    family's ``policy_run`` on :func:`streams`."""
    started = time.perf_counter()
    rng, real_rng = streams(seed, plan)
    values = POLICY_RUNNERS[plan.family].policy_run(
        plan.policy, plan.n_seeds, plan.n_generations, rng, real_rng=real_rng,
        settings=plan.settings)
    return np.asarray(values, dtype=float), time.perf_counter() - started


# =============================================================================== VAE reuse
@dataclasses.dataclass
class VAEReuse:
    """The VAE chapter's chains for this chapter's VAE settings: chain label -> (latent spread
    (N + 1, seeds), wall seconds (seeds,)), empty when the artifact at ``path`` is missing."""

    path: Path | None
    chains: dict[str, tuple[np.ndarray, np.ndarray]]

    def run_for(self, plan: PlannedRun) -> FamilyRun | None:
        """The VAE chapter's chains of ``plan`` as a run (None: not in the artifact)."""
        if plan.family != "vae":
            return None
        chains = self.chains.get(vae_experiments.policy_chain_label(plan.policy, plan.settings))
        if chains is None:
            return None
        spread, seconds = chains
        return FamilyRun("vae", plan.label, plan.policy, np.asarray(spread, float),
                         float(np.sum(seconds)))

    def note(self) -> str:
        """Which VAE chains were reused, or why none."""
        name = f"artifacts/{self.path.name}"
        if not self.chains:
            return (f"no VAE chains artifact for these settings ({name}) in this build's results "
                    "folder: every VAE chain runs here")
        described = ", ".join(f"{label} ({spread.shape[1]} seeds)"
                              for label, (spread, _) in self.chains.items())
        return f"reused the VAE chapter's chains ({name}): {described}"


def vae_reuse(settings: Mapping[str, Any]) -> VAEReuse:
    """The chains the VAE chapter filed (:func:`collapse.vae.experiments.write_chains_artifact`)
    under this chapter's VAE settings, when its artifact exists."""
    chosen = vae_settings(settings)
    return VAEReuse(vae_experiments.chains_artifact_path(chosen),
                    vae_experiments.read_chains_artifact(chosen) or {})


# =============================================================================== the chapter
@dataclasses.dataclass
class EscapingRuns:
    """Everything the chapter runs: ``comparisons`` (family -> :class:`FamilyComparison`, in
    :data:`FAMILIES` order), the Gaussian's μ_n² and s²_n per seed for the mix_real theory
    (``gaussian_moments``, label -> two arrays (N + 1, S), replace and every mix_real), the
    exact recursion's real fraction needed (``gaussian_threshold``), the VAE chapter's chains
    (``vae_reuse``) and the labels of the VAE runs taken from them (``reused``), the settings
    and the VAE settings, and the wall seconds spent per family in this chapter
    (``timings``; reused chains excluded)."""

    settings: dict
    vae_settings: dict
    comparisons: dict[str, FamilyComparison]
    gaussian_moments: dict[str, tuple[np.ndarray, np.ndarray]]
    gaussian_threshold: float
    vae_reuse: VAEReuse
    reused: list[str]
    timings: dict[str, float]

    @property
    def tolerance(self) -> float:
        return self.settings["tolerance"]


def gaussian_moments(seed: int, plans: Sequence[PlannedRun]
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """μ_n² and s²_n (N + 1, S) of the Gaussian's replace and mix_real runs of ``plans``: the
    same chains (same :func:`streams`) as their W2², kept as fitted parameters for the exact
    recursion (:mod:`.theory`; milliseconds per run)."""
    moments = {}
    for plan in plans:
        if plan.family == "gaussian" and parse_policy(plan.policy).name in ("replace",
                                                                             "mix_real"):
            rng, real_rng = streams(seed, plan)
            fit = gaussian_experiments.policy_trajectories(
                plan.policy, plan.n_seeds, plan.n_generations, rng, real_rng=real_rng,
                settings=plan.settings)
            moments[plan.label] = (fit.mean ** 2, fit.std ** 2)
    return moments


def run(settings: Mapping[str, Any], progress: Progress | None = None) -> EscapingRuns:
    """Every planned run (:func:`plan_runs`), VAE chains from the VAE chapter's artifact where
    it has them, the others as ``vae_jobs`` parallel jobs (the VAE chains dominate the cost;
    results do not depend on the number of jobs). ``progress(line)``: the reuse note, then
    one line per finished run."""
    plans, reuse = plan_runs(settings), vae_reuse(settings)
    if progress:
        progress(reuse.note())
    found = [reuse.run_for(plan) for plan in plans]
    reused = [plan.label for plan, family_run in zip(plans, found) if family_run is not None]
    # the VAE chains first: the cheap runs then fill the other workers
    todo = sorted((index for index, family_run in enumerate(found) if family_run is None),
                  key=lambda index: plans[index].family != "vae")

    def report(position: int, result: tuple[np.ndarray, float]) -> None:
        plan = plans[todo[position]]
        progress(f"{plan.family} {plan.label}: {plan.n_seeds} seeds × {plan.n_generations} "
                 f"generations in {result[1]:.1f} s")

    results = run_jobs(run_planned, [(plans[index], settings["seed"]) for index in todo],
                       n_jobs=settings["vae_jobs"], on_result=report if progress else None)
    timings = dict.fromkeys(FAMILIES, 0.0)
    for index, (values, seconds) in zip(todo, results):
        plan = plans[index]
        found[index] = FamilyRun(plan.family, plan.label, plan.policy, values, seconds)
        timings[plan.family] += seconds
    comparisons = {family: FamilyComparison(family, {},
                                            window_for(scale_generations(settings, family)))
                   for family in FAMILIES}
    for plan, family_run in zip(plans, found):
        comparisons[plan.family].runs[plan.label] = family_run
    threshold = gaussian_mix_real_threshold(settings["gaussian_sample_size"],
                                            settings["tolerance"], settings["n_generations"])
    return EscapingRuns(dict(settings), vae_settings(settings), comparisons,
                        gaussian_moments(settings["seed"], plans), threshold, reuse, reused,
                        timings)


def record_metrics(record, runs: EscapingRuns) -> None:
    """The chapter's headline numbers for ``escaping.json``."""
    comparisons = runs.comparisons
    record.metric("ratio_to_generation_0", {
        family: {label: c.ratio(label) for label in c.runs} for family, c in comparisons.items()})
    record.metric("generations", {family: {label: run.n_generations
                                           for label, run in c.runs.items()}
                                  for family, c in comparisons.items()})
    record.metric("seeds", {family: {label: run.n_seeds for label, run in c.runs.items()}
                            for family, c in comparisons.items()})
    needed = {}
    for family, c in comparisons.items():
        fraction, below = c.fraction_needed(runs.tolerance)
        needed[family] = {"fraction": fraction, "largest_failing": below}
    record.metric("real_fraction_needed", needed)
    record.metric("tolerance", runs.tolerance)
    record.metric("seconds", {family: {label: run.seconds for label, run in c.runs.items()}
                              for family, c in comparisons.items()})
    record.metric("gaussian_mean_error_threshold_exact", runs.gaussian_threshold)
    record.metric("timings_seconds", runs.timings)
    record.metric("vae_reused_chains", {label: comparisons["vae"].runs[label].n_seeds
                                        for label in runs.reused})
