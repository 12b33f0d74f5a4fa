"""Tests of collapse.escaping: the Gaussian mix_real recursion against the loop, the policy
specs, the comparison summaries and the claims machinery. Statistical tests use fixed seeds and
4 standard errors of the Monte-Carlo mean as tolerance."""
import math

import numpy as np
import pytest

from collapse import escaping, gaussian, profiles, results
from collapse.loop import MixReal, run_generations


def z_score(values, exact):
    values = np.asarray(values, float)
    return (values.mean() - exact) / (values.std(ddof=1) / math.sqrt(values.size))


# --------------------------------------------------------------------------- Gaussian theory
@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.75])
def test_gaussian_mix_real_recursion_matches_the_loop(fraction):
    size, seeds, n = 20, 20000, 8
    rng = np.random.default_rng(int(fraction * 100) + 5)
    real = rng.standard_normal((seeds, size))
    history = run_generations(gaussian.NaiveGaussian("unbiased"), real, MixReal(fraction),
                              n, rng, {"mean": lambda m, d, g: m.mean,
                                       "variance": lambda m, d, g: m.std ** 2})
    exact_error, exact_variance = escaping.gaussian_mix_real_moments(size, fraction, n)
    for generation in (1, 3, n):
        assert abs(z_score(history["mean"][generation] ** 2, exact_error[generation])) < 4
        assert abs(z_score(history["variance"][generation], exact_variance[generation])) < 4


def test_gaussian_mix_real_recursion_limits():
    size, n = 50, 30
    error, variance = escaping.gaussian_mix_real_moments(size, 0.0, n)
    assert np.allclose(error, (np.arange(n + 1) + 1) / size) and np.allclose(variance, 1)
    error, variance = escaping.gaussian_mix_real_moments(size, 1.0, n)
    assert np.allclose(error, 1 / size) and np.allclose(variance, 1)
    # stationary value ≈ σ²/M · (1 + 2f − 2f²)/(f(2 − f)) for large M
    error, _ = escaping.gaussian_mix_real_moments(10_000, 0.5, 2000)
    assert error[-1] * 10_000 == pytest.approx((1 + 1 - 0.5) / 0.75, rel=2e-3)
    strict = escaping.gaussian_mix_real_threshold(100, 0.05)
    loose = escaping.gaussian_mix_real_threshold(100, 0.5)
    assert 0 < loose < strict <= 1


# --------------------------------------------------------------------------- policies
def test_policy_specs_and_bad_inputs():
    specs = escaping.policy_specs([0, 0.1, 0.1, 0.5])
    labels = [spec.label for spec in specs]
    assert labels == ["replace", "accumulate", "accumulate_subsample", "growing M₀(n+1)",
                      "mix_real(0.1)", "mix_real(0.5)"]
    assert "growing M₀(n+1)" not in [s.label for s in escaping.policy_specs([0.1], False)]
    growing = escaping.make_policy(escaping.PolicySpec("growing"), 30)
    assert [growing.size_for(n, None, None) for n in (1, 2, 5)] == [60, 90, 180]
    with pytest.raises(ValueError, match="unknown policy"):
        escaping.PolicySpec("keep_all")
    with pytest.raises(ValueError, match="fraction"):
        escaping.PolicySpec("mix_real", 1.5)
    with pytest.raises(ValueError, match="sample_size"):
        escaping.make_policy(escaping.PolicySpec("growing"), None)
    assert escaping.PolicySpec("replace", fixed_sample=True).label == "replace, fixed M₀ images"
    with pytest.raises(ValueError, match="fixed_sample applies to policy 'replace' only"):
        escaping.PolicySpec("accumulate", fixed_sample=True)
    with pytest.raises(ValueError, match="unknown family"):
        escaping.check_family("diffusion")
    with pytest.raises(ValueError, match="unknown profile"):
        profiles.settings("escaping", "huge")


def _fake(family, ratios, generations=10, seeds=3):
    """A comparison whose runs sit at constant ``ratios`` (label -> ratio) after generation 0."""
    runs = {}
    for label, ratio in ratios.items():
        name, fraction = (("mix_real", float(label[9:-1])) if label.startswith("mix_real(")
                          else (label.split(" ")[0].rstrip(","), None))
        values = np.full((generations + 1, seeds), float(ratio))
        values[0] = 1.0
        spec = escaping.PolicySpec(name, fraction,
                                   fixed_sample=label == escaping.FIXED_REPLACE_LABEL)
        runs[label] = escaping.FamilyRun(family, spec, values, 0.0)
    return escaping.FamilyComparison(family, runs, window=2)


def test_fraction_needed_takes_the_first_fraction_from_which_all_stay_within():
    comparison = _fake("gaussian", {"replace": 9.0, "mix_real(0.1)": 1.05, "mix_real(0.3)": 1.3,
                                    "mix_real(0.5)": 1.08, "mix_real(1)": 1.0})
    assert comparison.fraction_needed(0.1) == (0.5, 0.3)
    assert comparison.ratio("mix_real(0.3)") == pytest.approx(1.3)
    failing = _fake("gmm", {"replace": 9.0, "mix_real(0.5)": 1.5})
    assert failing.fraction_needed(0.1) == (None, 0.5)
    easy = _fake("discrete", {"replace": 0.95, "mix_real(0.5)": 0.99})
    assert easy.fraction_needed(0.1) == (0.0, None)


def test_claims_are_computed_from_the_comparisons(tmp_path):
    settings = profiles.settings("escaping", "smoke")
    base = {"replace": 20.0, "accumulate": 1.5, "accumulate_subsample": 3.0,
            "growing M₀(n+1)": 5.0, "mix_real(0.01)": 15.0, "mix_real(0.1)": 5.0,
            "mix_real(0.5)": 2.0, "mix_real(1)": 1.0}
    comparisons = {"gaussian": _fake("gaussian", base), "gmm": _fake("gmm", base),
                   "discrete": _fake("discrete", {**{k: 1 - 0.5 / v for k, v in base.items()},
                                                  "accumulate": 1.0}),
                   "vae": _fake("vae", {"replace": 1.02, "accumulate": 1.0,
                                        "accumulate_subsample": 1.01, "mix_real(0.1)": 1.0,
                                        "mix_real(0.5)": 1.0, "growing M₀(n+1)": 0.7,
                                        "replace, fixed M₀ images": 0.8})}
    size = settings["gaussian_sample_size"]
    extra = {}
    for label, run in comparisons["gaussian"].runs.items():
        fraction = run.spec.fraction or 0.0
        error, variance = escaping.gaussian_mix_real_moments(size, fraction, 10)
        noise = np.array([[-1.0, 0.0, 1.0]]) * 1e-3
        extra[label] = (error[:, None] * (1 + noise), variance[:, None] * (1 + noise))
    comparisons["gaussian"].extra = extra
    record = results.ChapterRecord("escaping", settings)
    escaping.declare_claims(record, settings, list(comparisons))
    escaping.evaluate_claims(record, comparisons, settings)
    escaping.record_metrics(record, comparisons, settings["tolerance"])
    verdicts = {claim.id: claim.verdict for claim in record.claims.values()}
    # the VAE barely moves under replace: 3 of 4 families degrade
    assert verdicts["replace-degrades"] == "partially reproduced"
    assert verdicts["accumulate-bounded"] == "reproduced"
    assert verdicts["gaussian-mix-theory"] == "reproduced"
    # growing beats replace in the Gaussian, GMM and discrete, but the VAE's growing run
    # (0.7) ends further from generation 0 than its fixed-M₀ baseline (0.8)
    assert verdicts["growing-slows"] == "partially reproduced"
    assert "vae ×0.7 vs ×0.8" in record.claims["growing-slows"].measured
    # the summary has a column per family; a policy run for one family only is n/a elsewhere
    table = escaping.summary_markdown(comparisons, [0, 0.1], settings["tolerance"])
    assert table.splitlines()[0] == "|  | gaussian | gmm | discrete | vae |"
    assert "| `replace, fixed M₀ images` | n/a | n/a | n/a | 0.8 |" in table
    assert "| `accumulate` | 1.5 | 1.5 | **1** | **1** |" in table
    assert record.metrics["real_fraction_needed"]["gaussian"]["fraction"] == 1.0
    assert record.save(tmp_path).exists()


# --------------------------------------------------------------------------- families
def test_discrete_accumulate_and_full_real_mix_never_lose_a_state():
    comparison = escaping.discrete_comparison(20, 40, 30, 6, [0.5, 1.0], seed=3)
    assert np.all(comparison.runs["accumulate"].values == 1.0)
    assert np.all(comparison.runs["mix_real(1)"].values == 1.0)
    assert comparison.ratio("replace") < 1.0


def test_gmm_comparison_runs_every_policy_and_full_real_mix_repeats_generation_0():
    comparison = escaping.gmm_comparison(120, 2, 3, [1.0], seed=5, pool_seeds=1,
                                         pool_generations=2)
    assert set(comparison.runs) == {"replace", "accumulate", "accumulate_subsample",
                                    "growing M₀(n+1)", "mix_real(1)"}
    assert comparison.runs["accumulate"].values.shape == (3, 1)
    full = comparison.runs["mix_real(1)"].values
    assert np.allclose(full, full[0], rtol=1e-3)


def test_related_claims_picks_policy_claims():
    loaded = {"gaussian": {"claims": [{"id": "accumulate-bounded"}, {"id": "sigma-collapses"}]},
              "vae": {"claims": [{"id": "real-data-stops-it"}]}}
    rows = escaping.related_claims(loaded, ["gaussian", "discrete", "vae"])
    assert [(row["chapter"], row["id"]) for row in rows] == [
        ("gaussian", "accumulate-bounded"), ("vae", "real-data-stops-it")]


def _tiny_vae_settings():
    return {**profiles.settings("vae", "smoke"), "capacity": 2, "epochs": 1,
            "n_eval_samples": 50, "n_grid_images": 1, "n_generations": 1}


@pytest.mark.slow
def test_vae_comparison_runs_through_the_vae_module():
    settings = _tiny_vae_settings()
    comparison = escaping.vae_comparison(settings, [0.5], n_seeds=1, n_jobs=1, progress=False)
    assert set(comparison.runs) == {"replace", "accumulate", "accumulate_subsample",
                                    "growing M₀(n+1)", "replace, fixed M₀ images",
                                    "mix_real(0.5)"}
    values = comparison.runs["replace"].values
    assert values.shape == (2, 1) and np.all(values > 0)
    # every policy shares generation 0 (same seed stream)
    assert np.allclose([run.values[0, 0] for run in comparison.runs.values()], values[0, 0])
    text = escaping.vae_sample_size_markdown(comparison, settings["epochs"])
    assert f"×{comparison.ratio('growing M₀(n+1)'):.3g} with a growing set" in text


def test_vae_chains_are_reused_only_from_a_results_file_with_the_same_settings():
    settings = _tiny_vae_settings()
    spread = np.array([[1.0, 1.1], [0.8, 0.9]])  # (generations, seeds)
    record = {"settings": dict(settings),
              "metrics": {"latent_spread_by_seed": {"replace": spread.tolist(),
                                                    "mix_real(0.1)": spread.tolist()},
                          "chain_seconds": {"replace": [3.0, 5.0]}}}
    reused, note = escaping.reusable_vae_chains({"vae": record}, settings)
    assert set(reused) == {"replace", "mix_real(0.1)"}
    assert np.array_equal(reused["replace"][0], spread) and reused["replace"][1] == 4.0
    assert "replace (2 seeds)" in note
    # a reused chain is not rerun: with every policy of the grid reused, nothing runs
    keys = [escaping.vae_chain_key(spec) for spec in escaping.policy_specs([0.1])
            + [escaping.PolicySpec("replace", fixed_sample=True)]]
    assert keys == ["replace", "accumulate", "accumulate_subsample",
                    "growing(M₀(n+1)), fixed images", "mix_real(0.1)", "replace, fixed images"]
    everything = {key: (spread, 1.0) for key in keys}
    comparison = escaping.vae_comparison(settings, [0.1], 1, 1, reused=everything,
                                         progress=False)
    assert all(np.array_equal(run.values, spread) for run in comparison.runs.values())
    # other chain settings, or no file, or an older file: nothing is reused, and the note says why
    reused, note = escaping.reusable_vae_chains({"vae": record}, {**settings, "epochs": 3})
    assert reused == {} and "other settings (epochs)" in note
    assert escaping.reusable_vae_chains({}, settings)[0] == {}
    older = {**record, "metrics": {}}
    assert "older version" in escaping.reusable_vae_chains({"vae": older}, settings)[1]
