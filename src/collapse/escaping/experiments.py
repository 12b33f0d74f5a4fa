"""What stops collapse: one comparison of data policies across model families
(book/escaping.md).

Every family of the book runs through the shared loop (:func:`collapse.loop.run_generations`)
under the same data policies — `replace`, `accumulate`, `accumulate_subsample`, `mix_real(f)`
for a grid of real-data fractions f, and `growing` (M_n = M_0 (n + 1): as many points per
generation as accumulate's pool, all fresh from the latest model) — with each family's own
degradation metric normalised to generation 0:

* Gaussian (1-D, unbiased fit, M points): W2² to the truth N(0, 1);
* discrete (Zipf over K states, M tokens, exact fit): share of the original support still alive;
* GMM (two 2-D Gaussians, 2-component EM, N points): squared L2 distance to the truth;
* VAE (8×8 digits): latent spread, the paper's metric (standard deviation of the generation-0
  encoder's latent means of decoded prior samples).

A metric "after N generations" is the median over seeds of its mean over the last
``window`` generations, divided by the median over the same seeds at generation 0 (runs of one
family with the same seed index share their real data and hence generation 0). The fraction of
real data needed is the smallest f of the grid from which on every larger f keeps that ratio
within ``tolerance`` of 1.

The Gaussian `mix_real` has an exact theory (:func:`gaussian_mix_real_moments`): the real part
is a fresh subsample of the *same* M real points each generation, and E|μ_n − μ|², E s²_n obey a
linear recursion.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import stats

from . import discrete, gaussian, plotting
from .loop import (Accumulate, AccumulateSubsample, MixReal, Policy, Replace, check_fraction,
                   check_sample_size, linear_growth, run_generations)

__all__ = [
    "FAMILIES", "FamilyMetric", "FAMILY_METRICS", "PolicySpec", "policy_specs", "make_policy",
    "FamilyRun", "FamilyComparison", "gaussian_comparison", "discrete_comparison",
    "gmm_comparison", "vae_comparison", "reusable_vae_chains", "vae_chain_key",
    "vae_sample_size_markdown",
    "VAE_CHAIN_SETTINGS", "FIXED_REPLACE_LABEL", "growing_baseline", "gaussian_mix_real_moments",
    "gaussian_mix_real_threshold", "check_family", "summary_markdown", "setup_markdown",
    "fraction_needed_text", "plot_families", "plot_fraction_curves", "plot_gaussian_theory",
    "related_claims", "declare_claims", "evaluate_claims", "record_metrics",
]

FAMILIES = ("gaussian", "discrete", "gmm", "vae")


@dataclasses.dataclass(frozen=True)
class FamilyMetric:
    """A family's degradation metric: ``kind`` "error" (lower is better; collapse makes the
    ratio to generation 0 grow) or "level" (a share or spread; collapse makes it fall)."""

    family: str
    name: str
    kind: str


FAMILY_METRICS = {
    "gaussian": FamilyMetric("gaussian", "W2² to the truth", "error"),
    "discrete": FamilyMetric("discrete", "share of the original support alive", "level"),
    "gmm": FamilyMetric("gmm", "L2² to the truth", "error"),
    "vae": FamilyMetric("vae", "latent spread (generation-0 encoder)", "level"),
}


def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; allowed: {', '.join(FAMILIES)}")
    return family


# =============================================================================== policies
@dataclasses.dataclass(frozen=True)
class PolicySpec:
    """One data policy of the comparison (``fraction`` only for mix_real)."""

    name: str
    fraction: float | None = None
    fixed_sample: bool = False  # VAE only: replace with a fixed set of M₀ decoded images

    def __post_init__(self):
        allowed = ("replace", "accumulate", "accumulate_subsample", "mix_real", "growing")
        if self.name not in allowed:
            raise ValueError(f"unknown policy {self.name!r}; allowed: {', '.join(allowed)}")
        if self.name == "mix_real":
            object.__setattr__(self, "fraction", check_fraction(self.fraction, "fraction"))
        if self.fixed_sample and self.name != "replace":
            raise ValueError(f"fixed_sample applies to policy 'replace' only, got {self.name!r}")

    @property
    def label(self) -> str:
        if self.fixed_sample:
            return FIXED_REPLACE_LABEL
        if self.name == "mix_real":
            return f"mix_real({self.fraction:g})"
        if self.name == "growing":
            return "growing M₀(n+1)"
        return self.name

    @property
    def loop_name(self) -> str:
        """The name :func:`collapse.loop.policy_from_name` accepts (growing: the name only;
        its schedule is given separately)."""
        return self.label if self.name == "mix_real" else self.name


FIXED_REPLACE_LABEL = "replace, fixed M₀ images"


def growing_baseline(comparison: "FamilyComparison") -> str:
    """The run `growing` is compared with: replace with the same M₀ (for the VAE, whose
    replace draws fresh decoder samples for every batch, the fixed-sample replace)."""
    return FIXED_REPLACE_LABEL if FIXED_REPLACE_LABEL in comparison.runs else "replace"


def policy_specs(fractions: Sequence[float], growing: bool = True) -> list[PolicySpec]:
    """replace, accumulate, accumulate_subsample, [growing,] mix_real(f) for every f > 0 of
    ``fractions`` (mix_real(0) is replace)."""
    specs = [PolicySpec("replace"), PolicySpec("accumulate"), PolicySpec("accumulate_subsample")]
    if growing:
        specs.append(PolicySpec("growing"))
    specs += [PolicySpec("mix_real", f) for f in sorted(set(fractions)) if f > 0]
    return specs


def make_policy(spec: PolicySpec, sample_size: int | None = None) -> Policy:
    """The loop policy of ``spec``; growing uses M_n = M_0 (n + 1) with M_0 = ``sample_size``."""
    if spec.name == "replace":
        return Replace(sample_size)
    if spec.name == "accumulate":
        return Accumulate(sample_size)
    if spec.name == "accumulate_subsample":
        return AccumulateSubsample(sample_size)
    if spec.name == "mix_real":
        return MixReal(spec.fraction, sample_size)
    return linear_growth(sample_size)


# =============================================================================== results
@dataclasses.dataclass
class FamilyRun:
    """One family under one policy: ``values`` (N+1, S) of the family's metric."""

    family: str
    spec: PolicySpec
    values: np.ndarray
    seconds: float

    @property
    def n_generations(self) -> int:
        return self.values.shape[0] - 1

    @property
    def n_seeds(self) -> int:
        return self.values.shape[1]


@dataclasses.dataclass
class FamilyComparison:
    """Every policy's run for one family, and the summaries the chapter reports."""

    family: str
    runs: dict[str, FamilyRun]
    window: int = 1
    notes: str = ""
    extra: dict = dataclasses.field(default_factory=dict)  # family-specific arrays by label

    @property
    def metric(self) -> FamilyMetric:
        return FAMILY_METRICS[self.family]

    def reference(self, label: str = "replace") -> float:
        """Median over the run's seeds of its generation-0 metric. Runs of one family with
        the same seed index share generation 0, so this is the family's reference taken over
        the seeds the run has (the GMM's pooled runs and the VAE's runs have fewer)."""
        return float(np.median(self.runs[label].values[0]))

    @property
    def n_generations(self) -> int:
        return self.runs["replace"].n_generations

    def normalised(self, label: str) -> np.ndarray:
        """(N+1, S) metric / the run's generation-0 reference."""
        return self.runs[label].values / self.reference(label)

    def ratio(self, label: str, generation: int | None = None) -> float:
        """Median over seeds of the metric averaged over the ``window`` generations ending at
        ``generation`` (default: the last), over the run's generation-0 reference."""
        values = self.runs[label].values
        end = values.shape[0] - 1 if generation is None else int(generation)
        start = max(end - self.window + 1, 0)
        return float(np.median(values[start:end + 1].mean(axis=0)) / self.reference(label))

    def deviation(self, label: str, generation: int | None = None) -> float:
        """|ratio − 1|: how far the policy has moved the metric from generation 0."""
        return abs(self.ratio(label, generation) - 1)

    def fraction_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(fractions (F,), ratio at the last generation (F,)), fraction 0 = replace."""
        fractions = [0.0] + sorted(run.spec.fraction for run in self.runs.values()
                                   if run.spec.name == "mix_real")
        labels = ["replace"] + [f"mix_real({f:g})" for f in fractions[1:]]
        return np.array(fractions), np.array([self.ratio(label) for label in labels])

    def fraction_needed(self, tolerance: float = 0.1) -> tuple[float | None, float | None]:
        """(f*, the grid point below it): the smallest fraction of the grid from which on every
        larger fraction keeps the ratio within ``tolerance`` of 1; f* is None if even the
        largest fraction fails."""
        fractions, ratios = self.fraction_curve()
        inside = np.abs(ratios - 1) <= tolerance
        if not inside[-1]:
            return None, float(fractions[-1])
        first = len(inside) - 1
        while first > 0 and inside[first - 1]:
            first -= 1
        return float(fractions[first]), (float(fractions[first - 1]) if first > 0 else None)


def _finish(family: str, runs: Mapping[PolicySpec, tuple[np.ndarray, float]], window: int,
            notes: str = "") -> FamilyComparison:
    return FamilyComparison(family, {spec.label: FamilyRun(family, spec, values, seconds)
                                     for spec, (values, seconds) in runs.items()}, window, notes)


def _epochs(count: int) -> str:
    return f"{count} epoch{'' if count == 1 else 's'}"


def _window(n_generations: int) -> int:
    """Generations averaged for "after N generations": the last tenth (at least 1)."""
    return max(n_generations // 10, 1)


# =============================================================================== gaussian
def _gaussian_metrics() -> dict[str, Callable]:
    return {"w2": lambda model, data, generation: gaussian.theory.gaussian_w2_squared(
                model.mean, model.std),
            "mean_error": lambda model, data, generation: model.mean ** 2,
            "variance": lambda model, data, generation: model.std ** 2}


def gaussian_comparison(sample_size: int, n_seeds: int, n_generations: int,
                        fractions: Sequence[float], seed: int,
                        progress: Callable[[str], None] | None = None) -> FamilyComparison:
    """The 1-D Gaussian (unbiased fit, truth N(0, 1)) under every policy. replace, accumulate
    and growing use the exact sufficient-statistics sampler; the policies that need points use
    the naive sampler. All start from the same M real points per seed. The comparison's
    ``extra[label]`` holds (mean_error, variance) arrays (N+1, S) for the theory check."""
    rng = gaussian.rng_for(seed, "escaping", "gaussian", "real")
    real_points = rng.standard_normal((n_seeds, sample_size))
    runs, extra = {}, {}
    for spec in policy_specs(fractions):
        exact = spec.name in ("replace", "accumulate", "growing")
        family = gaussian.ExactGaussian("unbiased") if exact else gaussian.NaiveGaussian(
            "unbiased")
        real = gaussian.GaussianStats.from_samples(real_points) if exact else real_points
        started = time.perf_counter()
        history = run_generations(family, real, make_policy(spec, sample_size), n_generations,
                                  gaussian.rng_for(seed, "escaping", "gaussian", spec.label),
                                  _gaussian_metrics())
        runs[spec] = (history["w2"], time.perf_counter() - started)
        extra[spec.label] = (history["mean_error"], history["variance"])
        if progress:
            progress(f"  gaussian {spec.label}: {runs[spec][1]:.1f} s")
    comparison = _finish("gaussian", runs, _window(n_generations))
    comparison.extra = extra
    return comparison


def gaussian_mix_real_moments(sample_size: int, fraction: float, n_generations: int,
                              sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact E|μ_n − μ|² and E s²_n, n = 0 … N, of the unbiased Gaussian fit under
    `mix_real(f)`, where the k = round(fM) real points of each generation are drawn without
    replacement from the SAME M real points (the loop's policy), the rest from generation n.

    With d_n = μ_n − x̄_R (x̄_R the real sample's mean; d_0 = 0) and f = k/M:
    E d²_{n+1} = f(1−f)σ²/M + (1−f) E s²_n / M + (1−f)² E d²_n,
    (M−1) E s²_{n+1} = (k − 1 + (1−f)²)σ² + ((1−f)M − 1 + f) E s²_n + f(1−f)M E d²_n,
    and E|μ_n − μ|² = σ²/M + E d²_n (d_n is uncorrelated with x̄_R − μ). f = 0 is replace
    (E s² = σ², E|μ_n − μ|² = (n + 1)σ²/M); f = 1 repeats generation 0."""
    size = check_sample_size(sample_size, "sample_size")
    k = int(round(check_fraction(fraction, "fraction") * size))
    f = k / size
    d2, s2 = [0.0], [sigma ** 2]
    for _ in range(n_generations):
        d_next = f * (1 - f) * sigma ** 2 / size + (1 - f) * s2[-1] / size + (1 - f) ** 2 * d2[-1]
        if k == 0:
            s_next = s2[-1]
        else:
            s_next = ((k - 1 + (1 - f) ** 2) * sigma ** 2 + ((1 - f) * size - 1 + f) * s2[-1]
                      + f * (1 - f) * size * d2[-1]) / (size - 1)
        d2.append(d_next)
        s2.append(s_next)
    return sigma ** 2 / size + np.array(d2), np.array(s2)


def gaussian_mix_real_threshold(sample_size: int, tolerance: float = 0.1,
                                n_generations: int = 100) -> float:
    """Smallest f (to 1e-4, by bisection on the exact recursion) whose E|μ_N − μ|² stays
    within (1 + tolerance) × generation 0's σ²/M at generation N."""
    def excess(fraction):
        error, _ = gaussian_mix_real_moments(sample_size, fraction, n_generations)
        return error[-1] / error[0] - (1 + tolerance)
    low, high = 0.0, 1.0
    while high - low > 1e-4:
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) > 0 else (low, middle)
    return high


# =============================================================================== discrete
def discrete_comparison(n_states: int, sample_size: int, n_chains: int, n_generations: int,
                        fractions: Sequence[float], seed: int, exponent: float = 1.0,
                        progress: Callable[[str], None] | None = None) -> FamilyComparison:
    """A Zipf(``exponent``) distribution over ``n_states`` states, M tokens, refitted exactly
    (:class:`collapse.discrete.Categorical`) under every policy; metric: the share of the
    states present in the real data that the model still gives non-zero probability."""
    counts = discrete.counts_from_probabilities(discrete.zipf_probabilities(n_states, exponent),
                                                sample_size)
    alive_at_start = int((counts > 0).sum())
    real = discrete.replicate(counts, n_chains)
    metric = {"support": lambda model, data, generation:
              discrete.support_size(model, data, generation) / alive_at_start}
    runs = {}
    for spec in policy_specs(fractions):
        started = time.perf_counter()
        history = run_generations(discrete.Categorical(), real, make_policy(spec, sample_size),
                                  n_generations,
                                  gaussian.rng_for(seed, "escaping", "discrete", spec.label),
                                  metric)
        runs[spec] = (history["support"].astype(float), time.perf_counter() - started)
        if progress:
            progress(f"  discrete {spec.label}: {runs[spec][1]:.1f} s")
    return _finish("discrete", runs, _window(n_generations),
                   f"Zipf over {n_states} states, M = {sample_size}: {alive_at_start} states "
                   "present in the real data")


# =============================================================================== gmm
def gmm_comparison(n_points: int, n_seeds: int, n_generations: int, fractions: Sequence[float],
                   seed: int, setup: str = "two_gaussians", pool_seeds: int | None = None,
                   pool_generations: int | None = None,
                   progress: Callable[[str], None] | None = None) -> FamilyComparison:
    """The GMM (:class:`collapse.gmm.BatchedGMMFamily`, 2 components) under every policy; the
    policies with a fixed training-set size share one batch (:class:`collapse.gmm.SeedGroups`),
    accumulate and growing run alone, on the first ``pool_seeds`` seeds for
    ``pool_generations`` generations (their training sets grow to (N+1)·M points, so their
    cost grows with N²). Metric: ∫(p − p_n)² to the true mixture."""
    from threadpoolctl import threadpool_limits

    from . import gmm
    from .batched_em import Mixture
    chosen = gmm.setup_named(setup)
    truth = chosen.true_mixture()
    real = chosen.real_data(n_points, n_seeds, gmm.rng_for(seed, "escaping", "gmm", "real"))
    specs = policy_specs(fractions)
    fixed = [spec for spec in specs if spec.name not in ("accumulate", "growing")]
    batches = [fixed] + [[spec] for spec in specs if spec not in fixed]
    runs = {}
    for batch in batches:
        policies = [make_policy(spec, n_points) for spec in batch]
        pooled = batch[0].name in ("accumulate", "growing")
        seeds = min(pool_seeds or n_seeds, n_seeds) if pooled else n_seeds
        generations = min(pool_generations or n_generations, n_generations) if pooled \
            else n_generations
        policy = policies[0] if len(batch) == 1 else gmm.SeedGroups(
            [(seeds, p) for p in policies])
        started = time.perf_counter()
        with threadpool_limits(1):
            history = run_generations(
                gmm.BatchedGMMFamily(2), np.concatenate([real[:seeds]] * len(batch)), policy,
                generations, gmm.rng_for(seed, "escaping", "gmm", [s.label for s in batch]),
                {name: gmm.PARAMETER_METRICS[name] for name in ("weights", "means",
                                                                "covariances")})
        seconds = time.perf_counter() - started
        weights, means, covariances = (history[name] for name in ("weights", "means",
                                                                  "covariances"))
        rows, columns = weights.shape[:2]
        l2 = gmm.l2_squared(truth, Mixture(weights.reshape(rows * columns, -1),
                                           means.reshape(rows * columns, -1, 2),
                                           covariances.reshape(rows * columns, -1, 2, 2)))
        l2 = l2.reshape(rows, columns)
        for index, spec in enumerate(batch):
            runs[spec] = (l2[:, index * seeds:(index + 1) * seeds], seconds * seeds / columns)
        if progress:
            progress(f"  gmm {', '.join(s.label for s in batch)}: {seconds:.1f} s")
    order = {spec: runs[spec] for spec in specs}
    return _finish("gmm", order, _window(n_generations),
                   f"{chosen.label}, N = {n_points} points per generation")


# =============================================================================== vae
# VAE settings that decide a chain's numbers; the others (policies, seed counts, processes,
# grid generations, the loss ablation) only choose which chains a chapter runs
VAE_CHAIN_SETTINGS = ("seed", "dataset", "n_generations", "capacity", "latent_dim", "epochs",
                      "batch_size", "learning_rate", "weight_decay", "kl_weight", "device",
                      "n_eval_samples", "n_grid_images")


def vae_chain_key(spec: PolicySpec) -> str:
    """The key :func:`collapse.vae.run_experiment` files ``spec``'s chains under."""
    from . import vae
    if spec.name == "growing":
        return vae.chain_label(linear_growth(2).label(), "fixed")
    return vae.chain_label(spec.loop_name, "fixed" if _on_fixed_images(spec) else "fresh")


def _on_fixed_images(spec: PolicySpec) -> bool:
    """Whether the VAE runs ``spec`` on fixed sets of decoded images: the fixed-sample replace,
    and growing (a growing sample size means nothing with fresh samples every batch)."""
    return spec.fixed_sample or spec.name == "growing"


def reusable_vae_chains(loaded: Mapping[str, dict], vae_settings: Mapping[str, Any]
                        ) -> tuple[dict[str, tuple[np.ndarray, float]], str]:
    """The VAE chapter's chains in its results file (``loaded["vae"]``), when they were run
    with the settings of ``vae_settings`` (:data:`VAE_CHAIN_SETTINGS`): chain key ->
    (latent spread (N+1, seeds), mean wall seconds per chain), and a sentence saying what was
    reused or why nothing was."""
    record = loaded.get("vae")
    if record is None:
        return {}, "no results file of the VAE chapter in this build: every VAE chain runs here"
    recorded = record.get("settings", {})
    differing = [name for name in VAE_CHAIN_SETTINGS
                 if recorded.get(name) != vae_settings.get(name)]
    if differing:
        return {}, ("the VAE chapter's results were run with other settings "
                    f"({', '.join(differing)}): every VAE chain runs here")
    spreads = record.get("metrics", {}).get("latent_spread_by_seed")
    seconds = record.get("metrics", {}).get("chain_seconds", {})
    if not spreads:
        return {}, ("the VAE chapter's results file has no per-chain latent spreads (an older "
                    "version): every VAE chain runs here")
    reused = {label: (np.asarray(values, dtype=float),
                      float(np.mean(seconds.get(label, [np.nan]))))
              for label, values in spreads.items()}
    described = ", ".join(f"{label} ({values.shape[1]} seeds)"
                          for label, (values, _) in reused.items())
    return reused, f"reused from the VAE chapter's results file: {described}"


def vae_comparison(vae_settings: Mapping[str, Any], fractions: Sequence[float], n_seeds: int,
                   n_jobs: int, reused: Mapping[str, tuple[np.ndarray, float]] | None = None,
                   progress: bool = True) -> FamilyComparison:
    """The VAE (:func:`collapse.vae.run_experiment`) under replace, accumulate,
    accumulate_subsample, mix_real(f) and growing. Metric: the paper's latent spread.

    The VAE's synthetic data are fresh decoder samples for every batch (the authors' loop),
    so its sample size only weighs pools; `growing` (M_n = M₀ (n + 1), M₀ = the number of
    real images) therefore trains on a fixed set of M_n decoded images, and is compared with
    replace on a fixed set of M₀ decoded images (:data:`FIXED_REPLACE_LABEL`), same training
    budget. Chains found in ``reused`` (:func:`reusable_vae_chains`) are not rerun; the
    others run ``n_seeds`` seeds in ``n_jobs`` processes."""
    from . import vae
    reused = dict(reused or {})
    specs = policy_specs(fractions) + [PolicySpec("replace", fixed_sample=True)]
    missing = [spec for spec in specs if vae_chain_key(spec) not in reused]
    fresh = [spec.loop_name for spec in missing if not _on_fixed_images(spec)]
    fixed = [spec.loop_name for spec in missing if _on_fixed_images(spec)]
    results = vae.run_experiment(dict(vae_settings), policies=fresh, n_seeds=n_seeds,
                                 n_jobs=n_jobs, progress=progress, fixed_image_policies=fixed)
    runs = {}
    for spec in specs:
        key = vae_chain_key(spec)
        if key in reused:
            runs[spec] = reused[key]
        else:
            chains = results[key]
            runs[spec] = (vae.stack_metric(chains, "latent_spread"),
                          float(np.mean([chain.seconds for chain in chains])))
    return _finish("vae", runs, _window(vae_settings["n_generations"]),
                   f"{'8×8 digits' if vae_settings['dataset'] == 'digits' else 'MNIST'}, "
                   f"capacity {vae_settings['capacity']}, "
                   f"{_epochs(vae_settings['epochs'])} per generation")


# =============================================================================== summaries
HEADLINE_POLICIES = ("replace", "accumulate", "accumulate_subsample", "growing")
BANDED_POLICIES = ("replace", "accumulate")  # the others: medians only, for legibility
COLOUR_ORDER = ("replace", "accumulate", "accumulate_subsample", "growing M₀(n+1)",
                "mix_real(0.01)", "mix_real(0.1)", "mix_real(0.5)")


def policy_colour_index(label: str) -> int:
    """The same colour for a policy in every panel (others after the headline ones)."""
    if label == FIXED_REPLACE_LABEL:
        label = "replace"  # a variant of replace: its colour, dotted
    return COLOUR_ORDER.index(label) if label in COLOUR_ORDER else len(COLOUR_ORDER)


def headline_labels(comparison: FamilyComparison, fractions: Sequence[float]) -> list[str]:
    """The policies drawn in the per-family panels: the non-mixing policies and mix_real at
    the headline fractions (0 = replace)."""
    labels = [run.spec.label for run in comparison.runs.values()
              if run.spec.name in HEADLINE_POLICIES]
    labels += [f"mix_real({f:g})" for f in fractions
               if f > 0 and f"mix_real({f:g})" in comparison.runs]
    return labels


def summary_markdown(comparisons: Mapping[str, FamilyComparison],
                     fractions: Sequence[float], tolerance: float) -> str:
    """Markdown table, one column per family: its metric, N, the ratio to generation 0 after
    its last generation under each headline policy (bold: within tolerance; the VAE's
    fixed-sample replace where it exists) and the fraction of real data needed."""
    policies = ["replace", FIXED_REPLACE_LABEL, "accumulate", "accumulate_subsample",
                PolicySpec("growing").label] + [f"mix_real({f:g})" for f in fractions if f > 0]
    policies = [label for label in policies
                if any(label in c.runs for c in comparisons.values())]
    rows = [["", *comparisons], ["metric", *(c.metric.name for c in comparisons.values())],
            ["generations N", *(str(c.n_generations) for c in comparisons.values())]]
    for label in policies:
        cells = [f"`{label}`"]
        for comparison in comparisons.values():
            run = comparison.runs.get(label)
            if run is None:
                cells.append("n/a")
                continue
            ratio = comparison.ratio(label)
            mark = "**" if abs(ratio - 1) <= tolerance else ""
            suffix = f" (N = {run.n_generations})" if run.n_generations != \
                comparison.n_generations else ""
            cells.append(f"{mark}{ratio:.3g}{mark}{suffix}")
        rows.append(cells)
    rows.append([f"real fraction needed (±{tolerance:.0%})",
                 *(fraction_needed_text(c, tolerance) for c in comparisons.values())])
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def vae_sample_size_markdown(comparison: FamilyComparison, epochs: int) -> str:
    """What the VAE's three sample sizes did (fresh samples, fixed M₀, growing M₀(n+1)),
    worded from the measured deviations from generation 0."""
    growing = PolicySpec("growing").label
    fresh, fixed, grown = (comparison.deviation(label)
                           for label in ("replace", FIXED_REPLACE_LABEL, growing))

    # the seed-to-seed range of replace's final ratio: how far apart single chains can end
    window = comparison.normalised("replace")[-comparison.window:].mean(axis=0)
    noise = float(np.ptp(window))
    noise_text = (f"differences below {noise:.3f}, the range of replace's final ratio over its "
                  f"{window.size} seeds, count as equal" if window.size > 1 else
                  "one seed per policy: the seed-to-seed spread is not measured")

    def compared(a, b):  # how deviation a compares with deviation b
        if abs(a - b) <= noise:
            return "about as far from generation 0 as"
        return "closer to generation 0 than" if a < b else "further from generation 0 than"

    return (
        f"After {comparison.n_generations} generations the latent spread is "
        f"×{comparison.ratio('replace'):.3g} of generation 0 with fresh samples, "
        f"×{comparison.ratio(FIXED_REPLACE_LABEL):.3g} with a fixed set of M₀ images and "
        f"×{comparison.ratio(growing):.3g} with a growing set: the growing run ends "
        f"{compared(grown, fixed)} the fixed-M₀ run, and the fixed-M₀ run "
        f"{compared(fixed, fresh)} fresh sampling ({noise_text}). A generation trains on "
        f"{epochs}·M₀ images ({_epochs(epochs)} of M₀); from generation {epochs} on the growing "
        "set is larger than that, part of it is never seen, and growing trains like fresh "
        "sampling. A larger sample can only remove the part of the drift that comes from the "
        "finite sample (statistical approximation error), not the part the fitted model adds "
        "each generation (functional approximation error, {doc}`error_sources`).")


def fraction_needed_text(comparison: FamilyComparison, tolerance: float) -> str:
    needed, below = comparison.fraction_needed(tolerance)
    if needed is None:
        return f"> {below:g} (none of the grid)"
    if needed == 0:
        return "0 (replace already stays within)"
    return f"{needed:g} (fails at {below:g})"


# =============================================================================== figures
def plot_family(ax, comparison: FamilyComparison, fractions: Sequence[float]) -> None:
    """Normalised metric against generation (median and 10–90% band over seeds) under the
    headline policies."""
    for label in headline_labels(comparison, fractions):
        fixed = comparison.runs[label].spec.fixed_sample  # dotted, in replace's colour
        colour = plotting.color(policy_colour_index(label))
        values = comparison.normalised(label)
        generations = np.arange(values.shape[0])
        if values.shape[1] > 1 and label in BANDED_POLICIES:
            plotting.band(ax, generations, values, label=label, color=colour, alpha=0.15)
        else:
            ax.plot(generations, np.median(values, axis=1), label=label, color=colour,
                    linestyle=":" if fixed else "-")
    ax.axhspan(0.9, 1.1, color="#999999", alpha=0.15, linewidth=0)
    metric = comparison.metric
    seeds = sorted({run.n_seeds for run in comparison.runs.values()})
    ax.set(xlabel="generation n", ylabel=f"{metric.name} / generation 0",
           title=f"{comparison.family} (seeds: {seeds[0]}"
           + (f"–{seeds[-1]} by policy)" if len(seeds) > 1 else ")"))
    if metric.kind == "error":
        ax.set_yscale("log")
    else:
        highest = max(np.median(comparison.normalised(label), axis=1).max()
                      for label in headline_labels(comparison, fractions))
        ax.set_ylim(0, max(1.25, 1.05 * highest))


def plot_families(axes, comparisons: Mapping[str, FamilyComparison],
                  fractions: Sequence[float]) -> None:
    for ax, comparison in zip(axes.ravel(), comparisons.values()):
        plot_family(ax, comparison, fractions)
    handles = {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    handles = dict(sorted(handles.items(), key=lambda item: (policy_colour_index(item[0]),
                                                             item[0] == FIXED_REPLACE_LABEL)))
    axes.ravel()[0].figure.legend(list(handles.values()), list(handles), loc="outside lower center",
                                  ncol=4, fontsize=8)
    for ax in axes.ravel()[len(comparisons):]:
        ax.set_visible(False)


def plot_fraction_curves(ax, comparisons: Mapping[str, FamilyComparison],
                         tolerance: float, theory_error: tuple | None = None) -> None:
    """Ratio to generation 0 after N generations against the fraction of real data, every
    family; shaded: within ``tolerance``; dashed: the Gaussian mean error's exact ratio."""
    for index, (family, comparison) in enumerate(comparisons.items()):
        fractions, ratios = comparison.fraction_curve()
        ax.plot(fractions, ratios, marker="o", markersize=4, color=plotting.color(index),
                label=f"{family}: {comparison.metric.name}")
    if theory_error is not None:
        plotting.theory(ax, *theory_error, label="Gaussian, exact E|μ_N − μ|² ratio")
    ax.axhspan(1 - tolerance, 1 + tolerance, color="#999999", alpha=0.2, linewidth=0,
               label=f"within ±{tolerance:.0%} of generation 0")
    ax.set(xscale="symlog", yscale="log", xlabel="fraction f of real data (mix_real)",
           ylabel="metric after N generations / generation 0")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(-0.001, 1.05)
    ax.legend(loc="upper right", fontsize=7.5)


def plot_gaussian_theory(ax, comparison: FamilyComparison, sample_size: int) -> None:
    """MC mean of |μ_n − μ|² (thin) over its exact value (dashed) under mix_real(f)."""
    shown = [label for label in comparison.runs if label.startswith("mix_real(")]
    shown = [label for label in shown if float(label[9:-1]) in (0.01, 0.1, 0.5, 0.9)]
    for index, label in enumerate(["replace"] + shown):
        error, _ = comparison.extra[label]
        fraction = 0.0 if label == "replace" else float(label[9:-1])
        generations = np.arange(error.shape[0])
        ax.plot(generations, error.mean(axis=1) * sample_size, color=plotting.color(index),
                label=label)
        exact, _ = gaussian_mix_real_moments(sample_size, fraction, generations[-1])
        plotting.theory(ax, generations, exact * sample_size,
                        label="exact recursion" if index == 0 else None)
    ax.set(xlabel="generation n", ylabel="MC mean of M·|μₙ − μ|² (σ = 1)", yscale="log",
           title=f"Gaussian, M = {sample_size}: mean error under mix_real")
    ax.legend(loc="upper left", fontsize=7.5)


# =============================================================================== other chapters
POLICY_CLAIM_WORDS = ("accumulat", "mix-real", "real-data", "subsample", "growing")


def related_claims(loaded: Mapping[str, dict], chapters: Sequence[str]) -> list[dict]:
    """The policy-related claims (ids containing accumulate / mix-real / real-data /
    subsample / growing) of ``chapters``' results files, in chapter order."""
    rows = []
    for chapter in chapters:
        record = loaded.get(chapter)
        if record is None:
            continue
        for claim in record.get("claims", []):
            if any(word in claim["id"] for word in POLICY_CLAIM_WORDS):
                rows.append({**claim, "chapter": chapter,
                             "chapter_link": f'<a href="{chapter}.html">{chapter}</a>'})
    return rows


# =============================================================================== claims
def declare_claims(record, settings: Mapping[str, Any], families: Sequence[str]) -> None:
    """Fix every claim's criterion before the experiments run."""
    tolerance = settings["tolerance"]
    listed = ", ".join(families)
    record.declare_claim(
        "replace-degrades", "Training only on the previous generation's data degrades every "
        "family",
        "Shumailov et al.: collapse in every learned generative model (Gaussian, GMM, VAE, LM)",
        f"{listed}: the metric after N generations under replace is more than ±{tolerance:.0%} "
        "away from generation 0 (partially: for at least half the families)",
        reproduced_if=lambda v: all(d > tolerance for d in v.values()),
        partially_if=lambda v: sum(d > tolerance for d in v.values()) >= len(v) / 2)
    record.declare_claim(
        "accumulate-bounded", "Accumulating real and synthetic data keeps the degradation "
        "bounded",
        "Gerstgrasser et al. 2024: replacing collapses, accumulating keeps the test error "
        "bounded (≤ π²/6 × the first model's for linear regression)",
        "every family: under accumulate the error metrics end ≤ 2× generation 0 and the "
        "level metrics ≥ 0.9× generation 0, and accumulate's deviation from generation 0 is "
        "below replace's (partially: for at least half the families)",
        **FAMILY_MAJORITY_VERDICT)
    record.declare_claim(
        "real-data-stabilises", "Enough real data makes iterative retraining stable",
        "Bertrand et al. 2024: stable if the proportion of real data is large enough",
        "every family: the deviation from generation 0 after N generations falls as the real "
        "fraction grows (Spearman ρ ≤ −0.8 over the grid, replace included) and at f = 0.5 "
        "it is ≤ 1/3 of replace's and changes by ≤ 20% over the second half of the run "
        "(partially: for at least half the families)",
        **FAMILY_MAJORITY_VERDICT)
    record.declare_claim(
        "ten-percent-limits", "Keeping 10% real data leaves only minor degradation",
        "Shumailov et al., language model setting (b): 10% of the original data kept, minor "
        "degradation (here transferred to the other families)",
        "every family: deviation under mix_real(0.1) after N generations ≤ 1/3 of replace's "
        "(partially: for at least half the families)",
        **FAMILY_MAJORITY_VERDICT)
    record.declare_claim(
        "subsample-between", "A fixed-size subsample of the accumulated pool lies between "
        "accumulating and replacing",
        "Kazdan et al. 2024: accumulate-subsample degrades more than accumulate, less than "
        "replace",
        "every family: deviation(accumulate) − 0.05 ≤ deviation(accumulate_subsample) ≤ "
        "deviation(replace) after N generations (partially: for at least half the families)",
        **FAMILY_MAJORITY_VERDICT)
    record.declare_claim(
        "growing-slows", "A training set that grows with the generation slows the drift",
        "Shumailov et al., Gaussian theory: the error after n generations grows with "
        "Σ 1/M_i, so a growing M_i slows it (and bounds it only if Σ 1/M_i < ∞; M_i ∝ i "
        "does not)",
        "every family: after the growing run's N generations, deviation(growing M₀(n+1)) < "
        "deviation(replace with the same M₀; for the VAE, on a fixed set of M₀ decoded "
        "images) (partially: for at least half the families)",
        **FAMILY_MAJORITY_VERDICT)
    record.declare_claim(
        "gaussian-mix-theory", "The Gaussian under mix_real follows an exact linear recursion",
        "not in the paper (derived here)",
        "every mix_real(f) of the grid and replace: MC means of |μ_N − μ|² and s²_N within 4 SE "
        "of the exact recursion",
        reproduced_if=lambda v: v <= 4)


def _every_family(passed: Mapping[str, bool]) -> bool:
    return all(passed.values())


def _half_of_the_families(passed: Mapping[str, bool]) -> bool:
    return sum(passed.values()) >= len(passed) / 2


# verdict rule of the cross-family claims: reproduced when every family passes, partially
# reproduced when at least half of them do
FAMILY_MAJORITY_VERDICT = dict(reproduced_if=_every_family, partially_if=_half_of_the_families)


def _spearman(x, y) -> float:
    return float(stats.spearmanr(x, y).statistic)


def evaluate_claims(record, comparisons: Mapping[str, FamilyComparison],
                    settings: Mapping[str, Any]) -> None:
    """Measure every declared claim on this run."""
    tolerance = settings["tolerance"]

    deviations = {family: c.deviation("replace") for family, c in comparisons.items()}
    record.evaluate("replace-degrades", deviations, "; ".join(
        f"{family} ×{comparisons[family].ratio('replace'):.3g} (N = "
        f"{comparisons[family].n_generations})" for family in comparisons))

    passed, texts = {}, []
    for family, c in comparisons.items():
        ratio = c.ratio("accumulate")
        bounded = ratio <= 2 if c.metric.kind == "error" else ratio >= 0.9
        passed[family] = bool(bounded and c.deviation("accumulate") < c.deviation("replace"))
        texts.append(f"{family} ×{ratio:.3g} (replace ×{c.ratio('replace'):.3g})")
    record.evaluate("accumulate-bounded", passed, "; ".join(texts))

    passed, texts = {}, []
    for family, c in comparisons.items():
        fractions, ratios = c.fraction_curve()
        rho = _spearman(fractions, np.abs(ratios - 1))
        half = "mix_real(0.5)"
        if half not in c.runs:
            passed[family] = False
            texts.append(f"{family}: no mix_real(0.5) run")
            continue
        run_length = c.runs[half].n_generations
        late, middle = c.ratio(half), c.ratio(half, run_length // 2)
        small = c.deviation(half) <= c.deviation("replace") / 3
        steady = abs(late / middle - 1) <= 0.2
        passed[family] = bool(rho <= -0.8 and small and steady)
        texts.append(f"{family}: ρ = {rho:.2f}, f = 0.5 ×{late:.3g} (at N/2 ×{middle:.3g})")
    record.evaluate("real-data-stabilises", passed, "; ".join(texts))

    passed, texts = {}, []
    for family, c in comparisons.items():
        label = "mix_real(0.1)"
        if label not in c.runs:
            passed[family] = False
            texts.append(f"{family}: no mix_real(0.1) run")
            continue
        passed[family] = bool(c.deviation(label) <= c.deviation("replace") / 3)
        texts.append(f"{family} ×{c.ratio(label):.3g} vs replace ×{c.ratio('replace'):.3g}")
    record.evaluate("ten-percent-limits", passed, "; ".join(texts))

    passed, texts = {}, []
    for family, c in comparisons.items():
        low, middle, high = (c.deviation(label) for label in
                             ("accumulate", "accumulate_subsample", "replace"))
        passed[family] = bool(low - 0.05 <= middle <= high)
        texts.append(f"{family}: {c.ratio('accumulate'):.3g} / "
                     f"{c.ratio('accumulate_subsample'):.3g} / {c.ratio('replace'):.3g}")
    record.evaluate("subsample-between", passed,
                    "ratio accumulate / accumulate_subsample / replace: " + "; ".join(texts))

    passed, texts = {}, []
    for family, c in comparisons.items():
        label = PolicySpec("growing").label
        if label not in c.runs:
            passed[family] = False
            texts.append(f"{family}: no growing run")
            continue
        baseline, length = growing_baseline(c), c.runs[label].n_generations
        grown, fixed = c.deviation(label), c.deviation(baseline, length)
        passed[family] = bool(grown < fixed)
        texts.append(f"{family} ×{c.ratio(label):.3g} vs ×{c.ratio(baseline, length):.3g}"
                     + (f" (N = {length})" if length != c.n_generations else ""))
    record.evaluate("growing-slows", passed,
                    "ratio growing / replace with M₀ fixed: " + "; ".join(texts))

    gaussian_runs = comparisons["gaussian"]
    size = settings["gaussian_sample_size"]
    worst = 0.0
    for label, (mean_error, variance) in gaussian_runs.extra.items():
        run = gaussian_runs.runs[label]
        if run.spec.name not in ("replace", "mix_real"):
            continue
        fraction = run.spec.fraction or 0.0
        exact_error, exact_variance = gaussian_mix_real_moments(size, fraction,
                                                                run.n_generations)
        for simulated, exact in ((mean_error[-1], exact_error[-1]),
                                 (variance[-1], exact_variance[-1])):
            se = simulated.std(ddof=1) / math.sqrt(simulated.size)
            worst = max(worst, abs(simulated.mean() - exact) / se)
    record.evaluate("gaussian-mix-theory", worst,
                    f"largest |MC − exact| = {worst:.1f} SE over "
                    f"{sum(1 for r in gaussian_runs.runs.values() if r.spec.name in ('replace', 'mix_real'))}"
                    " policies")


def record_metrics(record, comparisons: Mapping[str, FamilyComparison],
                   tolerance: float) -> None:
    """Headline numbers for escaping.json."""
    record.metric("ratio_to_generation_0", {
        family: {label: c.ratio(label) for label in c.runs} for family, c in comparisons.items()})
    record.metric("generations", {family: {label: run.n_generations
                                           for label, run in c.runs.items()}
                                  for family, c in comparisons.items()})
    record.metric("seeds", {family: {label: run.n_seeds for label, run in c.runs.items()}
                            for family, c in comparisons.items()})
    needed = {}
    for family, c in comparisons.items():
        fraction, below = c.fraction_needed(tolerance)
        needed[family] = {"fraction": fraction, "largest_failing": below}
    record.metric("real_fraction_needed", needed)
    record.metric("tolerance", tolerance)
    record.metric("seconds", {family: {label: run.seconds for label, run in c.runs.items()}
                              for family, c in comparisons.items()})


def setup_markdown(settings: Mapping[str, Any], vae_settings: Mapping[str, Any],
                   vae_reused: Mapping[str, tuple[np.ndarray, float]] | None = None) -> str:
    """The chapter's scale table (families, data, metric, seeds, generations) from settings;
    ``vae_reused``: the VAE chains read from the VAE chapter (:func:`reusable_vae_chains`)."""
    vae_seeds = str(settings["vae_seeds"])
    if vae_reused:
        counts = sorted({values.shape[1] for values, _ in vae_reused.values()})
        reused = ", ".join(vae_reused)
        vae_seeds += (f" (for {reused}: the VAE chapter's chains)"
                      if counts == [settings["vae_seeds"]] else
                      f"; {'/'.join(map(str, counts))} for {reused} (the VAE chapter's chains)")
    pools = (f"{settings['gmm_pool_generations']} for accumulate and growing "
             f"({settings['gmm_pool_seeds']} seeds)")
    rows = [
        ("Gaussian ({doc}`gaussian`)",
         f"M = {settings['gaussian_sample_size']} points of N(0, 1); unbiased mean and variance",
         FAMILY_METRICS["gaussian"].name, settings["gaussian_seeds"],
         settings["n_generations"]),
        ("discrete ({doc}`discrete`)",
         f"Zipf over K = {settings['discrete_states']} states, M = "
         f"{settings['discrete_sample_size']} tokens; exact frequencies",
         FAMILY_METRICS["discrete"].name, settings["discrete_chains"],
         settings["n_generations"]),
        ("GMM ({doc}`gmm`)",
         f"{settings['gmm_points']:,} points of two 2-D Gaussians at (±4, 0); 2-component EM",
         FAMILY_METRICS["gmm"].name, settings["gmm_seeds"],
         f"{settings['n_generations']}; {pools}"),
        ("VAE ({doc}`vae`)",
         f"{'8×8 digits' if vae_settings['dataset'] == 'digits' else 'MNIST'}; the VAE "
         f"chapter's convolutional VAE, capacity {vae_settings['capacity']}, "
         f"{_epochs(vae_settings['epochs'])} per generation",
         FAMILY_METRICS["vae"].name, vae_seeds, settings["vae_generations"]),
    ]
    lines = ["| family | data, model | metric (÷ generation 0) | seeds | generations |",
             "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
