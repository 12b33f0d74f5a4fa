"""Everything the GMM chapter simulates: the runs of the shared loop, their tails, the check of
the batched EM against scikit-learn and the timing of the authors' loop.

:func:`run` (settings, progress) -> :class:`GMMRuns` is the chapter's one call; it runs
:func:`chapter_specs` through :func:`run_specs` (each :class:`RunSpec` is one batch of seeds,
several data policies side by side through :class:`~collapse.gmm.family.SeedGroups`, run as one
job of :func:`collapse.core.jobs.run_jobs`), each giving one
:class:`~collapse.gmm.metrics.MixtureHistory` per (setup, policy) group.
:func:`record_metrics` writes the headline numbers of the results file.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..core.checkpoints import Checkpointer
from ..core.jobs import pinned_threads, run_jobs
from ..core.loop import run_generations
from ..core.policies import policy_from_name
from ..core.seeds import rng_for
from . import batched_em
from .batched_em import Mixture
from .family import SETUPS, BatchedGMMFamily, SeedGroups, Setup, SklearnGMMFamily, setup_named
from .metrics import PARAMETER_METRICS, MixtureHistory, at_generation, hdr_log_threshold, \
    snapshot_fold, tail_masses

__all__ = ["PAPER_SPREAD_START", "PAPER_SPREAD_END", "PAPER_FINAL_L2", "RunSpec", "run_spec",
           "measure_tails", "policy_run", "run_specs", "evaluation_generations",
           "chapter_specs", "validate_against_sklearn", "validation_summary", "LoopTiming",
           "time_authors_loop", "GMMRuns", "paper_profile_note", "run", "summary_table",
           "record_metrics"]

PAPER_SPREAD_START, PAPER_SPREAD_END = 0.90, 0.01   # the authors' stored run, √(tr Σ/2)
PAPER_FINAL_L2 = 536.0                               # ... and its final ∫(p_0 − p_n)²


# --------------------------------------------------------------------------- running
@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One call of the shared loop: ``n_seeds`` seeds for each (setup, policy) group, all in
    one batch (through :class:`SeedGroups` when there is more than one group). Its repr
    names the batch's random streams: keep its fields as they are."""

    groups: tuple                      # ((setup name, policy name), ...)
    n_points: int
    n_seeds: int
    n_generations: int
    n_components: int = 2
    snapshot_generations: tuple = ()

    @property
    def name(self) -> str:
        groups = ", ".join(f"{setup}/{policy}" for setup, policy in self.groups)
        return f"[{groups}] N={self.n_points} K={self.n_components}"

    @property
    def cost(self) -> float:
        """Rough relative cost, for scheduling the slowest first: per generation, a fixed
        part (per-call overheads, worth ~20,000 point-fits) plus one part per point and seed
        (the training set grows by N per generation under `accumulate`)."""
        points = self.n_points * self.n_seeds * len(self.groups)
        if any(policy == "accumulate" for _, policy in self.groups):
            points *= self.n_generations / 2
        return (20000 + points) * self.n_generations * (1.0 if self.n_components > 1 else 0.1)


def evaluation_generations(n_generations: int, count: int, extra: Iterable[int] = ()) \
        -> np.ndarray:
    """About ``count`` generations spaced evenly on a log scale in 0..n_generations, plus
    ``extra`` ones (those <= n_generations)."""
    spaced = np.geomspace(1, max(n_generations, 1), max(count - 1, 1)).round().astype(int)
    chosen = set(spaced.tolist()) | {0} | {int(g) for g in extra if 0 <= g <= n_generations}
    return np.array(sorted(chosen))


def check_tail_levels(levels: Iterable[float]) -> tuple[float, ...]:
    """The tail levels (probability masses of the true HDRs), each a number in (0, 1), or
    ValueError naming ``tail_levels``."""
    checked = []
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, (int, float, np.number)) \
                or not 0 < level < 1:  # also rejects NaN
            raise ValueError(f"tail_levels must be probabilities in (0, 1), e.g. [0.95, 0.99]; "
                             f"got {list(levels)!r}")
        checked.append(float(level))
    return tuple(checked)


def run_spec(spec: RunSpec, seed: int | None, tail_levels: Sequence[float] = (0.95, 0.99),
             tail_samples: int = 20000, tail_evaluations: int = 40,
             extra_generations: Iterable[int] = (),
             checkpointer: Checkpointer | None = None,
             real_rng: np.random.Generator | None = None,
             loop_rng: np.random.Generator | None = None) -> list[MixtureHistory]:
    """Run one spec through :func:`collapse.core.loop.run_generations` and measure its tails.

    The real data of a setup depend only on (seed, setup, N), so groups and runs under
    different policies start from the same real points. The training points of each group's
    first seed at ``spec.snapshot_generations`` are kept by a fold (so a run resumed from
    ``checkpointer`` keeps them too). Returns one history per group. ``real_rng`` and
    ``loop_rng``, when given, replace the streams of the real data and of the loop that
    ``seed`` and the spec otherwise name (the cross-family comparison passes its own)."""
    tail_levels = check_tail_levels(tail_levels)  # before any work
    setups = [setup_named(setup) for setup, _ in spec.groups]
    # M = N for every policy (the M₀ of `growing`)
    policies = [policy_from_name(policy, sample_size=spec.n_points) for _, policy in spec.groups]
    real = np.concatenate([setup.real_data(
        spec.n_points, spec.n_seeds,
        real_rng if real_rng is not None else rng_for(seed, "real", setup.name, spec.n_points))
        for setup in setups])
    policy = policies[0] if len(policies) == 1 else \
        SeedGroups([(spec.n_seeds, policy) for policy in policies])
    first_seeds = [index * spec.n_seeds for index in range(len(setups))]
    folds = {"snapshots": snapshot_fold(spec.snapshot_generations, first_seeds)} \
        if spec.snapshot_generations else {}
    cpu_started = time.process_time()
    run = run_generations(BatchedGMMFamily(spec.n_components), real, policy,
                          spec.n_generations,
                          loop_rng if loop_rng is not None else rng_for(seed, "loop", spec),
                          dict(PARAMETER_METRICS), checkpointer=checkpointer, folds=folds)
    cpu = time.process_time() - cpu_started

    histories = []
    for index, (setup, group_policy) in enumerate(zip(setups, policies)):
        seeds = slice(index * spec.n_seeds, (index + 1) * spec.n_seeds)
        history = MixtureHistory.from_history(run, setup.name, group_policy.label(),
                                              spec.n_points, spec.n_components, seeds,
                                              cpu_seconds=cpu, batch=spec.name)
        history.snapshots = {generation: points[index] for generation, points
                             in run.folds.get("snapshots", {}).items()}
        if tail_levels:
            measure_tails(history, setup, rng_for(seed, "tails", spec, setup.name,
                                                  group_policy.label()),
                          tail_levels, tail_samples, tail_evaluations, extra_generations)
        histories.append(history)
    return histories


def measure_tails(history: MixtureHistory, setup: Setup, rng: np.random.Generator,
                  tail_levels: Sequence[float] = (0.95, 0.99), tail_samples: int = 20000,
                  tail_evaluations: int = 40, extra_generations: Iterable[int] = ()) -> None:
    """Set ``history.tail_generations`` (about ``tail_evaluations`` log-spaced generations plus
    ``extra_generations``) and ``history.tails`` (:func:`~collapse.gmm.metrics.tail_masses`
    against the setup's truth at each of them, ``tail_samples`` draws per seed)."""
    history.tail_generations = evaluation_generations(history.n_generations, tail_evaluations,
                                                      extra_generations)
    history.tails = _tails_over_generations(history, setup, tail_levels, tail_samples, rng)


def policy_run(policy: str, n_seeds: int, n_generations: int, rng: np.random.Generator, *,
               real_rng: np.random.Generator, settings: Mapping[str, Any]) -> np.ndarray:
    """The cross-family comparison's protocol (:class:`collapse.core.experiment.PolicyRunner`):
    one :func:`run_spec` of ``settings["setup"]`` (default ``two_gaussians``) with N =
    ``settings["n_points"]`` points and ``n_components`` (default 2) under ``policy`` (a
    :func:`~collapse.core.policies.policy_from_name` name), real data from ``real_rng``, the
    loop on ``rng``; returns ∫(p − p_n)² to the true mixture, shape
    (n_generations + 1, n_seeds)."""
    setup = settings.get("setup", "two_gaussians")
    spec = RunSpec(((setup, policy),), settings["n_points"], n_seeds, n_generations,
                   settings.get("n_components", 2))
    history, = run_spec(spec, None, tail_levels=(), real_rng=real_rng, loop_rng=rng)
    return history.l2_to(setup_named(setup).true_mixture())


def _tails_over_generations(history: MixtureHistory, setup: Setup, levels, n_samples, rng):
    truth = setup.true_mixture()
    thresholds = {level: float(hdr_log_threshold(truth, level, 10 * n_samples, rng)[0])
                  for level in levels}
    truth_samples = batched_em.sample_mixture(truth, n_samples, rng)[0]
    out = {"outside": {lv: [] for lv in levels}, "covered": {lv: [] for lv in levels}}
    for generation in history.tail_generations:
        masses = tail_masses(history.mixture(generation), truth, thresholds, truth_samples,
                             n_samples, rng)
        for kind in out:
            for level in levels:
                out[kind][level].append(masses[kind][level])
    return {kind: {level: np.stack(values) for level, values in by_level.items()}
            for kind, by_level in out.items()}


def run_specs(specs: Sequence[RunSpec], seed: int, n_jobs: int = 1,
              progress: Callable[[str], None] | None = None, **tail_options) \
        -> dict[tuple, MixtureHistory]:
    """Run every spec (slowest first, as jobs of :func:`collapse.core.jobs.run_jobs` in
    ``n_jobs`` worker processes, one thread each); results keyed by (setup, policy label, N,
    K). Each spec's random streams depend only on (seed, spec)."""
    specs = sorted(specs, key=lambda spec: -spec.cost)
    started = time.perf_counter()

    def report(index: int, histories: list[MixtureHistory]) -> None:
        first = histories[0]
        groups = ", ".join(f"{h.setup}/{h.policy}" for h in histories)
        progress(f"[{time.perf_counter() - started:6.1f} s] N={first.n_points} "
                 f"K={first.n_components} [{groups}]: {first.n_generations} generations "
                 f"× {first.n_seeds * len(histories)} seeds in {first.wall_seconds:.1f} s")

    outputs = run_jobs(run_spec, [(spec, seed) for spec in specs], n_jobs=n_jobs,
                       common=tail_options, on_result=report if progress else None)
    return {(h.setup, h.policy, h.n_points, h.n_components): h
            for histories in outputs for h in histories}


# Rough mean EM iterations per fit of a (setup, policy) group, for balancing batches only:
# two components on one Gaussian converge slowly unless the data have collapsed.
_GROUP_COST = {("two_gaussians", "replace"): 2, ("one_blob", "replace"): 20}


def _split_groups(groups: Sequence[tuple], n_batches: int) -> list[tuple]:
    """Greedy split of (setup, policy) groups into ``n_batches`` batches of similar cost."""
    batches: list[list] = [[] for _ in range(max(1, min(n_batches, len(groups))))]
    loads = [0.0] * len(batches)
    for group in sorted(groups, key=lambda g: -_GROUP_COST.get(tuple(g), 45)):
        lightest = int(np.argmin(loads))
        batches[lightest].append(tuple(group))
        loads[lightest] += _GROUP_COST.get(tuple(group), 45)
    return [tuple(batch) for batch in batches if batch]


def chapter_specs(settings: Mapping[str, Any]) -> list[RunSpec]:
    """The runs of the chapter, from its settings (see ``profiles.PROFILES["gmm"]``).

    At the main sample size: every setup under `replace` and the one-blob setup under the
    other fixed-size policies, split into ``n_jobs`` batches of similar cost (groups in one
    batch share each EM iteration). At the other sample sizes: the one-blob setup under all
    the fixed-size policies in one batch. On their own: `accumulate` (growing training set)
    and the single-Gaussian reference (K = 1)."""
    n_points, n_seeds, n_generations = (settings["n_points"], settings["n_seeds"],
                                        settings["n_generations"])
    snapshots = tuple(g for g in settings["snapshot_generations"] if g <= n_generations)
    others = tuple(("one_blob", policy) for policy in settings["policies"]
                   if policy != "replace")
    replace = tuple((setup, "replace") for setup in settings["setups"])
    specs = [RunSpec(batch, n_points, n_seeds, n_generations, snapshot_generations=snapshots)
             for batch in _split_groups(replace + others, settings["n_jobs"])]
    specs += [RunSpec((("one_blob", "accumulate"),), n_points,
                      settings["accumulate_seeds"], settings["accumulate_generations"]),
              RunSpec((("one_blob", "replace"),), n_points, n_seeds, n_generations,
                      n_components=1)]
    for run in settings["sample_size_runs"]:
        specs.append(RunSpec((("one_blob", "replace"),) + others, run["n_points"],
                             run["n_seeds"], run["n_generations"]))
    return specs


# --------------------------------------------------------------------------- checks
def validate_against_sklearn(X: np.ndarray, rng: np.random.Generator,
                             n_components: int = 2, tol: float = 1e-5,
                             max_iter: int = 2000, reg_covar: float = 1e-6) -> dict:
    """Fit every seed of X (S, N, 2) with the batched EM and with scikit-learn from the same
    initial parameters (the batched k-means initialisation, passed as weights_init /
    means_init / precisions_init). Returns per-seed mean log-likelihoods (scikit-learn's
    ``score`` of its fit; scipy.stats for the batched fit), their relative difference, and
    both iteration counts."""
    from sklearn.mixture import GaussianMixture
    X = np.asarray(X, dtype=float)
    initial = batched_em.mixture_from_labels(X, batched_em.kmeans(X, n_components, rng),
                                             n_components, reg_covar)
    ours = batched_em.fit_em(X, n_components, tol=tol, max_iter=max_iter,
                             reg_covar=reg_covar, initial=initial)
    rows = []
    with pinned_threads(1):
        for s in range(X.shape[0]):
            reference = GaussianMixture(
                n_components, covariance_type="full", tol=tol, max_iter=max_iter,
                reg_covar=reg_covar, init_params="random_from_data",  # overridden by:
                weights_init=initial.weights[s],
                means_init=initial.means[s],
                precisions_init=np.linalg.inv(initial.covariances[s])).fit(X[s])
            rows.append((reference.score(X[s]),
                         _log_likelihood_scipy(X[s], ours.mixture.select(slice(s, s + 1))),
                         reference.n_iter_, ours.n_iter[s]))
    sklearn_ll, ours_ll, sklearn_iter, ours_iter = (np.array(c) for c in zip(*rows))
    return {"sklearn_log_likelihood": sklearn_ll, "batched_log_likelihood": ours_ll,
            "relative_difference": np.abs(ours_ll - sklearn_ll) / np.abs(sklearn_ll),
            "sklearn_n_iter": sklearn_iter, "batched_n_iter": ours_iter}


def _log_likelihood_scipy(points: np.ndarray, mixture: Mixture) -> float:
    """Mean log-likelihood of (N, 2) points under a one-seed mixture, with scipy.stats
    (independent of both EM implementations)."""
    from scipy import special, stats
    logs = [np.log(w) + stats.multivariate_normal(mean, cov).logpdf(points)
            for w, mean, cov in zip(mixture.weights[0], mixture.means[0],
                                    mixture.covariances[0])]
    return float(special.logsumexp(np.stack(logs), axis=0).mean())


def validation_summary(validation: Mapping[str, dict]) -> dict:
    """Over the datasets of :func:`validate_against_sklearn` (one entry per setup): the
    largest relative log-likelihood difference (``worst``), the fraction of fits with the
    same iteration count (``same_iterations``), the number of datasets, and scikit-learn's
    iteration counts."""
    checks = list(validation.values())
    return {"worst": max(v["relative_difference"].max() for v in checks),
            "same_iterations": np.mean(np.concatenate([v["batched_n_iter"] == v["sklearn_n_iter"]
                                                       for v in checks])),
            "datasets": sum(len(v["sklearn_n_iter"]) for v in checks),
            "datasets_per_setup": len(checks[0]["sklearn_n_iter"]),
            "sklearn_n_iter": [int(i) for v in checks for i in v["sklearn_n_iter"]]}


@dataclasses.dataclass
class LoopTiming:
    """The authors' loop (one scikit-learn refit per generation, one seed) and the batched
    loop (several seeds) over the same setup and generations; wall times in the histories."""

    authors: MixtureHistory
    batched: MixtureHistory

    @property
    def authors_rate(self) -> float:
        """Generations × seeds per wall second of the authors' loop."""
        return self.authors.n_generations * self.authors.n_seeds / self.authors.wall_seconds

    @property
    def batched_rate(self) -> float:
        """Generations × seeds per wall second of the batched loop."""
        return self.batched.n_generations * self.batched.n_seeds / self.batched.wall_seconds

    @property
    def speedup(self) -> float:
        return self.batched_rate / self.authors_rate

    @property
    def authors_mean_iterations(self) -> float:
        """EM iterations per scikit-learn fit, averaged over the generations."""
        return float(self.authors.n_iter.mean())


def time_authors_loop(setup: Setup, n_points: int, n_generations: int, n_seeds: int,
                      seed: int) -> LoopTiming:
    """Run the authors' loop (one seed) and the batched loop (``n_seeds`` seeds) for the
    same setup and number of generations, back to back in this process with one thread
    each, under `replace`."""
    real = setup.real_data(n_points, 1, rng_for(seed, "timing-real"))
    batched_real = setup.real_data(n_points, n_seeds, rng_for(seed, "timing-real-batch"))
    replace = policy_from_name("replace")
    with pinned_threads(1):
        authors = run_generations(SklearnGMMFamily(), real[0], replace, n_generations,
                                  rng_for(seed, "timing-sklearn"), dict(PARAMETER_METRICS))
        batched = run_generations(BatchedGMMFamily(), batched_real, replace, n_generations,
                                  rng_for(seed, "timing-batched"), dict(PARAMETER_METRICS))
    return LoopTiming(*(MixtureHistory.from_history(history, setup.name, "replace", n_points, 2)
                        for history in (authors, batched)))


# --------------------------------------------------------------------------- the chapter
@dataclasses.dataclass
class GMMRuns:
    """Everything the chapter simulates: ``histories`` keyed (setup, policy, N, K) with
    ``n_points`` the main N, the scikit-learn ``validation`` per setup, the ``timing`` of the
    authors' loop; how they ran (``record_generations`` of the summary, ``tail_samples``
    Monte-Carlo draws, ``n_jobs`` processes) and the machine's 1-minute ``load_average``
    before and after the runs."""

    n_points: int
    histories: dict[tuple, MixtureHistory]
    validation: dict[str, dict]
    timing: LoopTiming | None = None
    record_generations: tuple = ()
    tail_samples: int = 0
    n_jobs: int = 1
    load_average: dict[str, float] = dataclasses.field(default_factory=dict)

    def history(self, setup: str = "one_blob", policy: str = "replace",
                n_points: int | None = None, n_components: int = 2) -> MixtureHistory:
        """The run of (setup, policy, N, K); N defaults to the main sample size."""
        n_points = self.n_points if n_points is None else n_points
        return self.histories[(setup, policy, n_points, n_components)]

    @property
    def main(self) -> MixtureHistory:
        """`one_blob` under `replace` at the main N (the authors' experiment)."""
        return self.history()

    @property
    def two_gaussians(self) -> MixtureHistory:
        return self.history("two_gaussians")

    @property
    def single(self) -> MixtureHistory:
        """The one-component reference (`one_blob`, K = 1)."""
        return self.history(n_components=1)

    def setups(self) -> dict[str, MixtureHistory]:
        """The two setups and the one-component reference, labelled for legends."""
        return {"one_blob": self.main, "two_gaussians": self.two_gaussians,
                "one_blob, K = 1": self.single}

    def sample_sizes(self) -> dict[str, MixtureHistory]:
        """`one_blob` under `replace`, K = 2, at every sample size (smallest first)."""
        return {f"N = {h.n_points}": h for (s, p, n, k), h in
                sorted(self.histories.items(), key=lambda item: item[0][2])
                if s == "one_blob" and p == "replace" and k == 2}

    def policies(self) -> dict[str, MixtureHistory]:
        """`one_blob` at the main N under each data policy that ran."""
        names = ["replace", "accumulate_subsample", "mix_real(0.1)", "accumulate"]
        return {p: self.histories[("one_blob", p, self.n_points, 2)] for p in names
                if ("one_blob", p, self.n_points, 2) in self.histories}


def paper_profile_note(settings: Mapping[str, Any]) -> str:
    """What the chapter says when it runs under the 'paper' profile."""
    return (f"The 'paper' profile ({settings['n_seeds']} seeds per configuration, "
            f"{settings['n_generations']} generations at every sample size) is meant for a "
            "bigger machine; it is not executed for the published book.")


def run(settings: Mapping[str, Any], progress: Callable[[str], None] | None = None) -> GMMRuns:
    """Every simulation of the chapter: the scikit-learn check on each setup's real data,
    the timing of the authors' loop, then all runs of :func:`chapter_specs`."""
    check_tail_levels(settings["tail_levels"])  # before any work
    load_at_start = os.getloadavg()[0]
    seed, n_points = settings["seed"], settings["n_points"]
    validation = {}
    for setup in ("one_blob", "two_gaussians"):
        data = SETUPS[setup].real_data(n_points, settings["validation_seeds"],
                                       rng_for(seed, "validation", setup))
        validation[setup] = validate_against_sklearn(data, rng_for(seed, "init", setup))
    timing = time_authors_loop(SETUPS["one_blob"], n_points, settings["authors_generations"],
                               settings["timing_seeds"], seed)
    histories = run_specs(chapter_specs(settings), seed, n_jobs=settings["n_jobs"],
                          progress=progress, tail_levels=settings["tail_levels"],
                          tail_samples=settings["tail_samples"],
                          tail_evaluations=settings["tail_evaluations"],
                          extra_generations=settings["record_generations"])
    return GMMRuns(n_points, histories, validation, timing,
                   record_generations=tuple(settings["record_generations"]),
                   tail_samples=settings["tail_samples"], n_jobs=settings["n_jobs"],
                   load_average={"start": load_at_start, "end": os.getloadavg()[0]})


def summary_table(histories: Mapping[tuple, MixtureHistory], generations: Sequence[int]) \
        -> list[dict]:
    """Median over seeds of L2²(p_0, p_n), of W2(p_0, p_n) (moment-matched Gaussians) and of
    the spread at ``generations`` and at each run's last generation ("last"), one row per run
    (None where the run is shorter)."""
    rows = []
    for (setup, policy, n_points, k), history in histories.items():
        l2, spread = history.l2_to_generation0(), history.spread()
        w2 = np.sqrt(history.w2_to_generation0())
        row = {"setup": setup, "policy": policy, "n_points": n_points, "n_components": k,
               "n_seeds": history.n_seeds, "n_generations": history.n_generations}
        for g in list(generations) + ["last"]:
            at = history.n_generations if g == "last" else g
            row[f"l2_{g}"] = None if at > history.n_generations else float(np.median(l2[at]))
            row[f"w2_{g}"] = None if at > history.n_generations else float(np.median(w2[at]))
            row[f"spread_{g}"] = None if at > history.n_generations else \
                float(np.median(spread[at]))
        rows.append(row)
    return rows


def record_metrics(record, runs: GMMRuns) -> None:
    """Headline numbers for the results file: the scikit-learn check; median L2²(p_0, p_n),
    W2(p_0, p_n) and spread at the record generations and at the last generation of every run, keyed
    "N=<N>/<policy>" (+ "/<setup>" for setups other than the authors' one blob, "/K=1" for
    the single-Gaussian reference; None where a run is shorter than the generation); the
    one-blob start and end values next to the authors'; each batch's wall and CPU seconds,
    the loop rates and the machine load."""
    check = validation_summary(runs.validation)
    record.metric("validation_max_relative_loglik_difference", check["worst"])
    record.metric("validation_same_iteration_count_fraction", check["same_iterations"])
    generations = runs.record_generations
    l2, w2, spread, sizes = {}, {}, {}, {}
    for row in summary_table(runs.histories, generations):
        name = f"N={row['n_points']}/{row['policy']}"
        if row["setup"] != "one_blob":
            name += f"/{row['setup']}"
        if row["n_components"] != 2:
            name += f"/K={row['n_components']}"
        keys = [str(g) for g in generations] + ["last"]
        l2[name] = {key: row[f"l2_{key}"] for key in keys}
        w2[name] = {key: row[f"w2_{key}"] for key in keys}
        spread[name] = {key: row[f"spread_{key}"] for key in keys}
        sizes[name] = {"n_seeds": row["n_seeds"], "n_generations": row["n_generations"]}
    record.metric("median_l2_squared", l2)
    record.metric("median_w2_moment_matched", w2)
    record.metric("median_spread", spread)
    record.metric("runs", sizes)
    record.metric("batch_seconds", {h.batch: {"wall": h.wall_seconds, "cpu": h.cpu_seconds}
                                    for h in runs.histories.values()})
    record.metric("authors_loop_generation_seeds_per_second", runs.timing.authors_rate)
    record.metric("batched_loop_generation_seeds_per_second", runs.timing.batched_rate)
    record.metric("load_average_1min", runs.load_average)
    main = runs.main
    record.metric("paper_spread_start_end", [PAPER_SPREAD_START, PAPER_SPREAD_END])
    record.metric("median_spread_one_blob_start_end",
                  [float(np.median(main.spread()[0])),
                   float(np.median(at_generation(main.spread(), 2000)))])
    record.metric("median_final_l2_squared_one_blob",
                  float(np.median(main.l2_to_generation0()[-1])))
