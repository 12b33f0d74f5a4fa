"""The escaping chapter's tables and sentences, each a function of the settings or the runs."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..discrete.experiments import zipf_counts
from ..gmm.family import setup_named
from .comparison import FAMILY_METRICS, FIXED_REPLACE_LABEL, GROWING_LABEL, FamilyComparison
from .experiments import EscapingRuns, vae_reuse, vae_settings

__all__ = ["seeds_summary", "setup_markdown", "run_notes", "key_results", "FAMILY_NAMES",
           "fraction_needed_text",
           "summary_markdown", "family_sentences", "gaussian_threshold_markdown",
           "plateau_markdown", "vae_sample_size_markdown", "POLICY_CLAIM_WORDS",
           "related_claims", "NO_RELATED_RESULTS"]


def _epochs(count: int) -> str:
    return f"{count} epoch{'' if count == 1 else 's'}"


def _images(settings: Mapping[str, Any]) -> str:
    return "8×8 digits" if settings["dataset"] == "digits" else "MNIST"


def _vae_network(settings: Mapping[str, Any]) -> str:
    """The VAE chapter's network in these settings: convolutional (capacity c) or fully
    connected (hidden width h)."""
    if settings.get("architecture", "conv") == "mlp":
        return f"fully connected VAE, width {settings['capacity']}"
    return f"convolutional VAE, capacity {settings['capacity']}"


def seeds_summary(settings: Mapping[str, Any]) -> str:
    """The seed counts of the results file's ``seeds`` entry."""
    return (f"{settings['gaussian_seeds']} Gaussian, {settings['discrete_chains']} discrete, "
            f"{settings['gmm_seeds']} GMM, {settings['vae_seeds']} VAE, "
            f"{settings['language_model_seeds']} language model")


def setup_markdown(settings: Mapping[str, Any]) -> str:
    """The chapter's scale table (families, data, metric, seeds, generations) from settings,
    with the VAE chains the VAE chapter has filed for these settings
    (:func:`~collapse.escaping.experiments.vae_reuse`)."""
    vae, reuse = vae_settings(settings), vae_reuse(settings)
    vae_seeds = str(settings["vae_seeds"])
    if reuse.chains:
        counts = sorted({spread.shape[1] for spread, _ in reuse.chains.values()})
        reused = ", ".join(reuse.chains)
        vae_seeds += (f" (for {reused}: the VAE chapter's chains)"
                      if counts == [settings["vae_seeds"]] else
                      f"; {'/'.join(map(str, counts))} for {reused} (the VAE chapter's chains)")
    pools = (f"{settings['gmm_pool_generations']} for accumulate and growing "
             f"({settings['gmm_pool_seeds']} seeds)")
    rows = [
        ("{doc}`Gaussian <gaussian>`",
         f"M = {settings['gaussian_sample_size']} points of N(0, 1); unbiased mean and variance",
         FAMILY_METRICS["gaussian"].name, settings["gaussian_seeds"],
         settings["n_generations"]),
        ("{doc}`discrete <discrete>`",
         f"Zipf over K = {settings['discrete_states']} states, M = "
         f"{settings['discrete_sample_size']} tokens; exact frequencies",
         FAMILY_METRICS["discrete"].name, settings["discrete_chains"],
         settings["n_generations"]),
        ("{doc}`GMM <gmm>`",
         f"{settings['gmm_points']:,} points of two 2-D Gaussians at (±4, 0); 2-component EM",
         FAMILY_METRICS["gmm"].name, settings["gmm_seeds"],
         f"{settings['n_generations']}; {pools}"),
        ("{doc}`VAE <vae>`",
         f"{_images(vae)}; the VAE chapter's {_vae_network(vae)}, "
         f"{_epochs(vae['epochs'])} per generation",
         FAMILY_METRICS["vae"].name, vae_seeds, settings["vae_generations"]),
        ("{doc}`language model <language_model>`",
         "that chapter's small OPT on WikiText-2 blocks, at its decoding comparison's scale; "
         "temperature-1 sampling, the learning rate its regime gate chose",
         FAMILY_METRICS["language_model"].name, settings["language_model_seeds"],
         settings["language_model_generations"]),
    ]
    lines = ["| family | data, model | metric (÷ generation 0) | seeds | generations |",
             "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def run_notes(runs: EscapingRuns) -> str:
    """What each family's runs started from, one line each (after the run's progress)."""
    settings, vae = runs.settings, runs.vae_settings
    discrete = {"n_states": settings["discrete_states"],
                "sample_size": settings["discrete_sample_size"]}
    alive = int((zipf_counts(discrete) > 0).sum())
    return "\n".join([
        f"discrete: Zipf over {settings['discrete_states']} states, M = "
        f"{settings['discrete_sample_size']}: {alive} states present in the real data",
        f"gmm: {setup_named('two_gaussians').label}, N = {settings['gmm_points']} points per "
        "generation",
        f"vae: {_images(vae)}, {_vae_network(vae)}, {_epochs(vae['epochs'])} per "
        "generation",
        "time spent here: " + ", ".join(f"{family} {seconds:.0f} s"
                                        for family, seconds in runs.timings.items())])


FAMILY_NAMES = {"gaussian": "Gaussian", "discrete": "discrete", "gmm": "GMM", "vae": "VAE",
                "language_model": "language model"}


def key_results(runs: EscapingRuns) -> dict[str, str]:
    """The key-results box's headline numbers (label -> value as shown): each family's
    metric after its N generations ÷ generation 0 under replace and under accumulate, and the
    smallest real fraction that keeps it within the tolerance."""
    comparisons, tolerance = runs.comparisons, runs.tolerance
    n = runs.settings["n_generations"]

    def ratios(label: str) -> str:
        def length(run) -> str:
            return "" if run.n_generations == n else f" (N = {run.n_generations})"
        return ", ".join(f"{FAMILY_NAMES.get(family, family)} ×{c.ratio(label):.3g}"
                         f"{length(c.runs[label])}"
                         for family, c in comparisons.items() if label in c.runs)

    def needed(comparison: FamilyComparison) -> str:
        fraction, below = comparison.fraction_needed(tolerance)
        if fraction is None:
            return f"none up to {below:g}"
        return "0 (replace stays within)" if fraction == 0 else f"{fraction:g}"

    return {
        f"Metric ÷ generation 0 after N = {n} generations under replace": ratios("replace"),
        "Under accumulate": ratios("accumulate"),
        f"Real fraction needed to stay within ±{tolerance:.0%}": ", ".join(
            f"{FAMILY_NAMES.get(family, family)} {needed(c)}"
            for family, c in comparisons.items()),
    }


def fraction_needed_text(comparison: FamilyComparison, tolerance: float) -> str:
    """The real fraction a family needs to stay within ``tolerance``, in words."""
    needed, below = comparison.fraction_needed(tolerance)
    if needed is None:
        return f"> {below:g} (none of the grid)"
    if needed == 0:
        return "0 (replace already stays within)"
    return f"{needed:g} (fails at {below:g})"


def summary_markdown(runs: EscapingRuns) -> str:
    """Markdown table, one column per family: its metric, N, the ratio to generation 0 after
    its last generation under each headline policy (bold: within tolerance; the VAE's
    fixed-sample replace where it exists) and the fraction of real data needed."""
    comparisons, tolerance = runs.comparisons, runs.tolerance
    fractions = runs.settings["headline_fractions"]
    policies = ["replace", FIXED_REPLACE_LABEL, "accumulate", "accumulate_subsample",
                GROWING_LABEL] + [f"mix_real({f:g})" for f in fractions if f > 0]
    policies = [label for label in policies
                if any(label in c.runs for c in comparisons.values())]
    rows = [["", *(FAMILY_NAMES.get(family, family) for family in comparisons)],
            ["metric", *(c.metric.name for c in comparisons.values())],
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
            suffix = (f" (N = {run.n_generations})"
                      if run.n_generations != comparison.n_generations else "")
            cells.append(f"{mark}{ratio:.3g}{mark}{suffix}")
        rows.append(cells)
    rows.append([f"real fraction needed (±{tolerance:.0%})",
                 *(fraction_needed_text(c, tolerance) for c in comparisons.values())])
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def family_sentences(runs: EscapingRuns) -> str:
    """One bullet per family: replace, accumulate and mix_real(0.1) after N generations and
    the real fraction needed."""
    tolerance = runs.tolerance
    return "\n".join(
        f"- **{FAMILY_NAMES.get(family, family)}**: replace ×{c.ratio('replace'):.3g}, "
        f"accumulate ×{c.ratio('accumulate'):.3g}, mix_real(0.1) ×{c.ratio('mix_real(0.1)'):.3g}; real "
        f"fraction needed to stay within ±{tolerance:.0%}: "
        f"{fraction_needed_text(c, tolerance)}."
        for family, c in runs.comparisons.items())


def gaussian_threshold_markdown(runs: EscapingRuns) -> str:
    """The exact recursion's real fraction needed against the simulated W2²'s."""
    settings = runs.settings
    return (f"For $M = {settings['gaussian_sample_size']}$ and $N = {settings['n_generations']}$ "
            f"the exact recursion needs $f \\ge {runs.gaussian_threshold:.3f}$ to keep "
            f"$\\mathbb E|\\mu_N - \\mu|^2$ within ±{runs.tolerance:.0%} of generation 0; the "
            f"simulated $W_2^2$ "
            f"(mean *and* spread) needs "
            f"{fraction_needed_text(runs.comparisons['gaussian'], runs.tolerance)}.")


def plateau_markdown(runs: EscapingRuns,
                     labels: Sequence[str] = ("replace", "mix_real(0.1)", "mix_real(0.5)")
                     ) -> str:
    """Per family, the ratio at generation N/2 and at N under ``labels`` (a plateau is
    stability, a trend is not)."""
    def plateau(comparison: FamilyComparison, label: str) -> str:
        middle = comparison.ratio(label, comparison.runs[label].n_generations // 2)
        return f"{label} ×{middle:.3g} → ×{comparison.ratio(label):.3g}"

    return "\n".join(
        f"- **{FAMILY_NAMES.get(family, family)}** (generation N/2 → N): " + "; ".join(
            plateau(comparison, label) for label in labels if label in comparison.runs)
        for family, comparison in runs.comparisons.items())


def vae_sample_size_markdown(runs: EscapingRuns) -> str:
    """What the VAE's three sample sizes did (fresh samples, fixed M₀, growing M₀(n+1)),
    worded from the measured deviations from generation 0."""
    comparison, epochs = runs.comparisons["vae"], runs.vae_settings["epochs"]
    fresh, fixed, grown = (comparison.deviation(label)
                           for label in ("replace", FIXED_REPLACE_LABEL, GROWING_LABEL))

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
        f"×{comparison.ratio(GROWING_LABEL):.3g} with a growing set: the growing run ends "
        f"{compared(grown, fixed)} the fixed-M₀ run, and the fixed-M₀ run "
        f"{compared(fixed, fresh)} fresh sampling ({noise_text}). A generation trains on "
        f"{epochs}·M₀ images ({_epochs(epochs)} of M₀); from generation {epochs} on the growing "
        "set is larger than that, part of it is never seen, and growing trains like fresh "
        "sampling. A larger sample can only remove the part of the drift that comes from the "
        "finite sample (statistical approximation error), not the part the fitted model adds "
        "each generation (functional approximation error, {doc}`error_sources`).")


POLICY_CLAIM_WORDS = ("accumulat", "mix-real", "real-data", "subsample", "growing")

NO_RELATED_RESULTS = ("No family chapter's results file in this build's results folder "
                      "(run the book with `collapse build`, or those chapters first).")


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
