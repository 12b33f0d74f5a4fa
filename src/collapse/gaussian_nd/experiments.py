"""Everything the d-dimensional Gaussian chapter simulates, from its profile settings.

:func:`run` runs, in order, Theorem 3.1's recursion in d dimensions with both estimators (many
seeds, every generation kept, with W2² to the truth and the spectrum of Σ_n), the comparison of
the exact Wishart sampler with drawing every point, and the Collapse-or-Thrive grid (Kazdan et
al.: d × M × {replace, accumulate, accumulate_subsample}, ML covariance); it returns
:class:`NDRuns`. Grid cells run as parallel jobs (:func:`collapse.core.jobs.run_jobs`, one
thread each); every run draws from its own stream (:func:`collapse.core.seeds.rng_for`), so
results do not depend on the number of jobs.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import stats

from ..core.experiment import Progress, Timings
from ..core.jobs import run_jobs
from ..core.loop import KeepAt, run_generations
from ..core.policies import policy_from_name
from ..core.seeds import rng_for
from ..core.stats import mc_mean_with_se
from . import theory
from .family import METRICS, ExactGaussian, GaussianFit, NaiveGaussian, true_data

__all__ = ["Run", "simulate", "theorem_generations", "theorem_run", "SamplerComparison",
           "compare_samplers", "GRID_POLICIES", "grid_cell", "NDRuns", "run", "record_metrics"]

GRID_POLICIES = ("replace", "accumulate_subsample", "accumulate")
POOL_BYTES = 2e8  # memory for one job's point pools (accumulate_subsample): sets its seed batch


@dataclasses.dataclass
class Run:
    """S chains of one setting, every generation 0 … N kept: ``mean_error`` ‖μ̂_n − μ‖²,
    ``log_det`` log det Σ̂_n (−∞ when singular), ``trace`` tr Σ̂_n, shape (N + 1, S) each;
    ``w2`` W2²(N(μ̂_n, Σ̂_n), N(μ, σ²I)) (or None); ``spectrum``: generation -> eigenvalues of
    Σ̂_n, (S, d), decreasing (or {}); ``seconds``, ``cpu_seconds``: wall and CPU time of the
    loop."""

    label: str
    dim: int
    sample_size: int
    policy: str
    estimator: str
    sampler: str
    mean_error: np.ndarray
    log_det: np.ndarray
    trace: np.ndarray
    seconds: float
    w2: np.ndarray | None = None
    spectrum: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def n_seeds(self) -> int:
        return int(self.log_det.shape[1])

    @property
    def n_generations(self) -> int:
        return int(self.log_det.shape[0] - 1)

    @property
    def singular(self) -> bool:
        """True when every fit is singular (M ≤ d: det Σ̂_n = 0)."""
        return self.sample_size <= self.dim

    def sizes(self) -> np.ndarray:
        """M_0 … M_N (constant) for the theory functions."""
        return np.full(self.n_generations + 1, float(self.sample_size))


def _w2_to_truth(model: GaussianFit, data: Any, generation: int) -> np.ndarray:
    """W2²(N(μ̂, Σ̂), N(0, I)) = ‖μ̂‖² + tr Σ̂ + d − 2 tr Σ̂^{1/2} (singular values of the
    factor), shape (S,)."""
    roots = np.linalg.svd(model.factor, compute_uv=False).sum(axis=1)
    return ((model.mean ** 2).sum(axis=1) + (model.factor ** 2).sum(axis=(1, 2))
            + model.dim - 2 * roots)


def _eigenvalues(model: GaussianFit, data: Any) -> np.ndarray:
    return model.eigenvalues()


def simulate(dim: int, sample_size: int, policy: str, estimator: str, n_seeds: int,
             n_generations: int, rng: np.random.Generator, *, sampler: str = "exact",
             w2: bool = False, spectrum_at: Sequence[int] = (), label: str = "") -> Run:
    """One run of the loop from N(0, I) in ``dim`` dimensions under ``policy`` (a name for
    :func:`~collapse.core.policies.policy_from_name`, M = ``sample_size``); ``sampler``
    "exact" (sufficient statistics) or "naive" (points; needed by `accumulate_subsample`)."""
    family = (ExactGaussian(estimator) if sampler == "exact" else
              NaiveGaussian(estimator, pool_capacity=(n_generations + 1) * sample_size))
    metrics = dict(METRICS, **({"w2": _w2_to_truth} if w2 else {}))
    folds = {"spectrum": KeepAt(spectrum_at, _eigenvalues)} if len(spectrum_at) else {}
    started = time.process_time()
    history = run_generations(family, true_data(family, n_seeds, sample_size, dim, rng),
                              policy_from_name(policy, sample_size=sample_size), n_generations,
                              rng, metrics, folds=folds)
    return Run(label or f"d = {dim}, M = {sample_size}, {policy}, {estimator}", dim,
               sample_size, policy, estimator, family.sampler, history["mean_error"],
               history["log_det"], history["trace"], history.seconds,
               history["w2"] if w2 else None, history.folds.get("spectrum", {}),
               time.process_time() - started)


def theorem_generations(sample_size: int, n_generations: int) -> list[int]:
    """Generations whose spectrum is kept: about 40 log-spaced ones, with M, 3M, 10M and N."""
    spaced = np.unique(np.round(np.geomspace(1, n_generations, 40)).astype(int))
    extra = [g for g in (sample_size, 3 * sample_size, 10 * sample_size) if g <= n_generations]
    return sorted({0, n_generations, *spaced.tolist(), *extra})


# =============================================================================== samplers
@dataclasses.dataclass
class SamplerComparison:
    """Exact and naive sampler on the same (d, M, S, N) under `replace`: their runs, two-sample
    KS tests (statistic name -> result) at the last generation, and the wall-time ratio."""

    exact: Run
    naive: Run
    ks: dict[str, Any]

    @property
    def speed_ratio(self) -> float:
        return self.naive.seconds / self.exact.seconds

    def chain_generations_per_second(self, which: str) -> float:
        run = getattr(self, which)
        return run.n_seeds * run.n_generations / run.seconds


def compare_samplers(dim: int, sample_size: int, n_seeds: int, n_generations: int, seed: int,
                     estimator: str = "unbiased", min_seconds: float = 0.3) -> SamplerComparison:
    """Run `replace` with both samplers (independent streams) in this process; each is repeated
    with the same seed until ``min_seconds`` are spent and the fastest repeat is kept."""
    runs = {}
    for sampler in ("exact", "naive"):
        spent, best = 0.0, None
        while best is None or spent < min_seconds:
            run = simulate(dim, sample_size, "replace", estimator, n_seeds, n_generations,
                           rng_for(seed, "samplers", sampler), sampler=sampler)
            spent += run.seconds
            best = run if best is None or run.seconds < best.seconds else best
        runs[sampler] = best
    ks = {name: stats.ks_2samp(getattr(runs["exact"], name)[-1],
                               getattr(runs["naive"], name)[-1])
          for name in ("log_det", "trace", "mean_error")}
    return SamplerComparison(runs["exact"], runs["naive"], ks)


# =============================================================================== the grid
def grid_cell(dim: int, sample_size: int, policy: str, estimator: str, n_seeds: int,
              n_generations: int, seed: int) -> Run:
    """One cell of the Collapse-or-Thrive grid. `accumulate_subsample` needs points (naive
    sampler) and keeps every generated point: its seeds run in batches whose pools fit in
    :data:`POOL_BYTES`; the other policies run all seeds at once on sufficient statistics."""
    label = f"d = {dim}, M = {sample_size}, {policy}"
    if policy != "accumulate_subsample":
        return simulate(dim, sample_size, policy, estimator, n_seeds, n_generations,
                        rng_for(seed, "grid", dim, sample_size, policy), label=label)
    per_seed = 8 * (n_generations + 1) * sample_size * dim  # the whole pool, allocated once
    batch = max(1, min(n_seeds, int(POOL_BYTES // per_seed)))
    parts = [simulate(dim, sample_size, policy, estimator, min(batch, n_seeds - start),
                      n_generations, rng_for(seed, "grid", dim, sample_size, policy, start),
                      sampler="naive", label=label)
             for start in range(0, n_seeds, batch)]
    first = parts[0]
    return dataclasses.replace(
        first, seconds=sum(part.seconds for part in parts),
        cpu_seconds=sum(part.cpu_seconds for part in parts),
        **{name: np.concatenate([getattr(part, name) for part in parts], axis=1)
           for name in ("mean_error", "log_det", "trace")})


def theorem_run(dim: int, sample_size: int, estimator: str, n_seeds: int, n_generations: int,
                seed: int) -> Run:
    """Theorem 3.1's recursion (`replace`, exact sampler) with W2² to the truth at every
    generation and the spectrum at :func:`theorem_generations`."""
    return simulate(dim, sample_size, "replace", estimator, n_seeds, n_generations,
                    rng_for(seed, "theorem", estimator), w2=True,
                    spectrum_at=theorem_generations(sample_size, n_generations),
                    label=f"d = {dim}, M = {sample_size}, {estimator}")


def _job(kind: str, dim: int, size: int, variant: str, *, settings: Mapping[str, Any]) -> Run:
    """One parallel job: a theorem run (``variant`` = estimator) or a grid cell (policy)."""
    if kind == "theorem":
        return theorem_run(dim, size, variant, settings["theorem_seeds"],
                           settings["theorem_generations"], settings["seed"])
    return grid_cell(dim, size, variant, settings["grid_estimator"], settings["grid_seeds"],
                     settings["grid_generations"], settings["seed"])


def _job_cost(task: tuple, settings: Mapping[str, Any]) -> float:
    """Rough CPU cost of a job, to start the longest first."""
    kind, dim, size, variant = task
    if kind == "theorem":
        return settings["theorem_seeds"] * settings["theorem_generations"] * 3 * dim ** 3
    work = settings["grid_seeds"] * settings["grid_generations"]
    if variant == "accumulate_subsample":
        return work * size * dim ** 2
    return work * (dim ** 3 + 100 * dim)


# =============================================================================== the chapter
@dataclasses.dataclass
class NDRuns:
    """Everything the chapter simulates (:func:`run`). ``theorem``: estimator -> run at
    (``dim``, ``sample_size``); ``samplers``: the sampler comparison; ``grid``:
    (d, M, policy) -> run, ``grid_dims`` × ``grid_sample_sizes`` × :data:`GRID_POLICIES`
    with ``grid_estimator``; ``timings``: wall seconds per experiment."""

    dim: int
    sample_size: int
    theorem: dict[str, Run]
    samplers: SamplerComparison
    grid_dims: list[int]
    grid_sample_sizes: list[int]
    grid_estimator: str
    grid: dict[tuple[int, int, str], Run]
    timings: Timings
    n_jobs: int = 1

    def grid_runs(self, policy: str) -> list[Run]:
        return [self.grid[d, m, policy] for d in self.grid_dims for m in self.grid_sample_sizes]


def run(settings: Mapping[str, Any], progress: Progress | None = None) -> NDRuns:
    """Every experiment of the chapter under ``settings`` (its profile settings)."""
    seed, timings = settings["seed"], Timings()
    dim, size = settings["theorem_dim"], settings["theorem_sample_size"]
    with timings("samplers"):  # first, alone: its wall times are the speed ratio
        samplers = compare_samplers(settings["sampler_dim"], settings["sampler_sample_size"],
                                    settings["sampler_seeds"], settings["sampler_generations"],
                                    seed)
    with timings("theorem and grid"):
        tasks = [("theorem", dim, size, estimator) for estimator in theory.ESTIMATORS]
        tasks += [("grid", d, m, policy) for d in settings["grid_dims"]
                  for m in settings["grid_sample_sizes"] for policy in GRID_POLICIES]
        tasks.sort(key=lambda task: _job_cost(task, settings), reverse=True)
        done = []

        def report(index: int, result: Run) -> None:
            done.append(result.seconds)
            if progress and (len(done) % 20 == 0 or len(done) == len(tasks)):
                progress(f"  {len(done)}/{len(tasks)} jobs done, {sum(done):.0f} s of job time")

        results = run_jobs(_job, tasks, n_jobs=settings["n_jobs"],
                           common=dict(settings=dict(settings)), on_result=report)
        theorem = {task[3]: result for task, result in zip(tasks, results)
                   if task[0] == "theorem"}
        theorem = {estimator: theorem[estimator] for estimator in theory.ESTIMATORS}
        grid = {task[1:]: result for task, result in zip(tasks, results) if task[0] == "grid"}
    return NDRuns(dim, size, theorem, samplers, list(settings["grid_dims"]),
                  list(settings["grid_sample_sizes"]), settings["grid_estimator"], grid,
                  timings, settings["n_jobs"])


# =============================================================================== metrics
def record_metrics(record, runs: NDRuns) -> None:
    """The chapter's headline numbers for ``_build/results/gaussian_nd.json``."""
    samplers = runs.samplers
    record.metric("sampler_speed_ratio", samplers.speed_ratio)
    record.metric("sampler_comparison", {
        "dim": samplers.exact.dim, "sample_size": samplers.exact.sample_size,
        "seeds": samplers.exact.n_seeds, "generations": samplers.exact.n_generations,
        "exact_seconds": samplers.exact.seconds, "naive_seconds": samplers.naive.seconds,
        "exact_chain_generations_per_second": samplers.chain_generations_per_second("exact"),
        "naive_chain_generations_per_second": samplers.chain_generations_per_second("naive"),
        "ks_p": {name: result.pvalue for name, result in samplers.ks.items()}})
    theorem = {}
    for estimator, r in runs.theorem.items():
        lower, upper = theory.w2_bounds(r.dim, r.sizes(), estimator)
        mean, se = mc_mean_with_se(r.w2[-1])
        theorem[estimator] = {
            "generations": r.n_generations, "seeds": r.n_seeds, "seconds": r.seconds,
            "median_log_det_per_dim_last": float(np.median(r.log_det[-1])) / r.dim,
            "exact_median_log_det_per_dim_last": float(theory.log_det_quantiles(
                [0.5], r.dim, r.sample_size, [r.n_generations], estimator)[0, 0]) / r.dim,
            "w2_last_mc_mean": float(mean), "w2_last_mc_se": float(se),
            "w2_last_exact_bounds": [float(lower[-1]), float(upper[-1])]}
    record.metric("theorem", theorem)
    grid = {}
    for (dim, size, policy), r in sorted(runs.grid.items()):
        grid[f"d={dim},M={size},{policy}"] = {
            "seconds": r.seconds, "sampler": r.sampler,
            "mean_error_last_mc_mean": float(r.mean_error[-1].mean()),
            "trace_per_dim_last_median": float(np.median(r.trace[-1])) / dim,
            "log_det_per_dim_last_median": (None if r.singular
                                            else float(np.median(r.log_det[-1])) / dim)}
    record.metric("grid_last_generation", grid)
    record.metric("job_seconds", {
        **{policy: {"wall": sum(r.seconds for r in runs.grid_runs(policy)),
                    "cpu": sum(r.cpu_seconds for r in runs.grid_runs(policy))}
           for policy in GRID_POLICIES},
        "theorem": {"wall": sum(r.seconds for r in runs.theorem.values()),
                    "cpu": sum(r.cpu_seconds for r in runs.theorem.values())}})
    record.metric("section_seconds", dict(runs.timings))
