"""Tests of the VAE chapter's package code (collapse.vae).

Models here are tiny (capacity 2-4, one epoch) so the file runs in seconds; the statistical
test (pool proportions) states its tolerance in standard errors.
"""
from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
import scipy.stats
import torch

from collapse.core.checkpoints import PickleCheckpointer
from collapse.core.data import DataError
from collapse.core.experiment import Timings
from collapse.core.jobs import pinned_threads
from collapse.core.loop import run_generations
from collapse.core.policies import Replace, linear_growth, policy_from_name
from collapse.publish import profiles
from collapse.publish.records import ChapterRecord
from collapse.vae import declare_claims, evaluate_claims, record_metrics
from collapse.vae.chains import Chain
from collapse.vae.claims import first_halving, spread_drop_matches
from collapse.vae.data import load_images, load_mnist, read_idx, write_idx
from collapse.vae.evaluation import (METRIC_NAMES, EvaluationFold, GenerationEvaluator,
                                     effective_classes, frechet_distance, gaussian_frechet)
from collapse.vae.experiments import VAERuns, chain_label, run_experiment, run_policy
from collapse.vae.family import DecoderSampler, RealImages, SamplerData, VAEFamily
from collapse.vae.model import ConvVAE, batch_sizes_for_epoch, build_vae, resolve_device, \
    vae_loss


@pytest.fixture(autouse=True)
def one_thread():
    """Every test here runs with one torch/BLAS thread, as the chains do."""
    with pinned_threads(1):
        yield


def tiny_settings(**changes):
    """The smoke profile shrunk further: one-epoch, capacity-2 VAEs on the digits."""
    settings = profiles.settings("vae", "smoke")
    settings.update(dict(n_seeds=1, n_generations=1, capacity=2, latent_dim=3, epochs=1,
                         batch_size=256, n_eval_samples=40, n_grid_images=2, n_jobs=1,
                         device="cpu"))
    settings.update(changes)
    return settings


def record_fits(family) -> list:
    """Wrap ``family.fit`` so that every dataset it is fitted to is appended to the list."""
    seen = []
    fit = family.fit
    family.fit = lambda data, rng: (seen.append(data), fit(data, rng))[1]
    return seen


def tiny_images(n=40, side=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, side, side, generator=generator)


# --------------------------------------------------------------------------- the loss
def test_vae_loss_matches_hand_computation():
    rng = np.random.default_rng(1)
    images = rng.random((3, 1, 4, 4))
    reconstruction = rng.uniform(0.05, 0.95, size=(3, 1, 4, 4))
    mean, log_variance = rng.normal(size=(3, 2)), rng.normal(scale=0.5, size=(3, 2))
    # negative ELBO by hand: Bernoulli cross-entropy + closed-form Gaussian KL to N(0, I)
    cross_entropy = -np.sum(images * np.log(reconstruction)
                            + (1 - images) * np.log(1 - reconstruction))
    kl = np.sum(0.5 * (np.exp(log_variance) + mean**2 - 1 - log_variance))
    tensors = [torch.tensor(a) for a in (reconstruction, images, mean, log_variance)]
    assert vae_loss(*tensors).item() == pytest.approx(cross_entropy + kl, rel=1e-12)
    assert vae_loss(*tensors, kl_weight=0.25).item() == pytest.approx(
        cross_entropy + 0.25 * kl, rel=1e-12)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    images = torch.full((2, 1, 4, 4), 0.5, dtype=torch.float64)
    reconstruction = images.clone()
    zeros = torch.zeros(2, 3, dtype=torch.float64)
    at_prior = vae_loss(reconstruction, images, zeros, zeros).item()
    assert at_prior == pytest.approx(2 * 16 * math.log(2), rel=1e-12)  # BCE(0.5, 0.5) = ln 2
    assert vae_loss(reconstruction, images, zeros + 0.3, zeros).item() > at_prior


def test_authors_architecture_has_647k_parameters_and_valid_outputs():
    model = ConvVAE(image_size=28, capacity=64, latent_dim=20)
    assert sum(p.numel() for p in model.parameters()) == 647_081  # the paper's "647k"
    small = build_vae(8, 4, 5, seed=3)
    images = tiny_images(6)
    reconstruction, mean, log_variance = small(images, torch.zeros(6, 5))
    assert reconstruction.shape == images.shape and mean.shape == (6, 5)
    assert log_variance.shape == (6, 5)
    assert ((reconstruction > 0) & (reconstruction < 1)).all()


def test_build_vae_is_seeded_and_leaves_global_state_alone():
    state = torch.random.get_rng_state()
    first, again, other = (build_vae(8, 2, 3, seed) for seed in (5, 5, 6))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), again.parameters()))
    assert not torch.equal(first.to_mean.weight, other.to_mean.weight)


# --------------------------------------------------------------------------- samplers
def test_real_images_epoch_sees_every_image_once():
    images = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1).expand(10, 1, 4, 4) / 10
    batches = RealImages(images).epoch([4, 4, 2], torch.Generator().manual_seed(0))
    assert [len(batch) for batch in batches] == [4, 4, 2]
    seen = torch.cat(batches)[:, 0, 0, 0] * 10
    assert sorted(seen.round().int().tolist()) == list(range(10))


def test_pool_draws_parts_in_proportion_to_their_sizes():
    zeros = RealImages(torch.zeros(30, 1, 4, 4))
    ones = RealImages(torch.ones(70, 1, 4, 4))
    pool = SamplerData().concat([zeros, ones])
    assert pool.size == 100
    n = 20_000
    share = pool.draw(n, torch.Generator().manual_seed(2))[:, 0, 0, 0].mean().item()
    standard_error = math.sqrt(0.7 * 0.3 / n)  # binomial share
    assert abs(share - 0.7) < 5 * standard_error
    nested = SamplerData().concat([pool, zeros])  # pools flatten, sizes add up
    assert len(nested.parts) == 3 and nested.size == 130


def test_take_gives_real_subsets_and_materialises_decoder_samples():
    rng = np.random.default_rng(0)
    images = torch.arange(20, dtype=torch.float32).view(20, 1, 1, 1).expand(20, 1, 4, 4) / 20
    taken = SamplerData().take(RealImages(images), 7, rng)
    values = (taken.images[:, 0, 0, 0] * 20).round().int().tolist()
    assert isinstance(taken, RealImages) and len(set(values)) == 7
    decoder = DecoderSampler(build_vae(4, 2, 2, seed=0), size=15)
    fixed = SamplerData().take(decoder, 5, rng)
    assert isinstance(fixed, RealImages) and fixed.size == 5
    with pytest.raises(ValueError, match="cannot take 16"):
        SamplerData().take(decoder, 16, rng)


# --------------------------------------------------------------------------- the loop
def test_one_generation_step_trains_only_on_decoder_samples():
    images = tiny_images(40)
    family = VAEFamily(image_size=8, images_per_epoch=40, capacity=2, latent_dim=2,
                           epochs=1, batch_size=16)
    seen = record_fits(family)
    history = run_generations(family, RealImages(images), Replace(), 1,
                                   np.random.default_rng(0),
                                   {"loss": lambda model, data, g: model.training_losses[-1]})
    assert isinstance(seen[0], RealImages)
    assert isinstance(seen[1], DecoderSampler) and seen[1].size == 40
    assert history["loss"].shape == (2,) and np.all(np.isfinite(history["loss"]))
    assert family.batch_sizes == [16, 16, 8]  # as many batches as a real epoch


@pytest.mark.parametrize("policy, expected_sizes", [
    ("mix_real(0.1)", [40, 40, 40]), ("accumulate", [40, 80, 120])])
def test_policies_build_pools_of_real_and_generated_images(policy, expected_sizes):
    images = tiny_images(40)
    family = VAEFamily(image_size=8, images_per_epoch=40, capacity=2, latent_dim=2,
                           epochs=1, batch_size=40)
    seen = record_fits(family)
    history = run_generations(family, RealImages(images),
                                   policy_from_name(policy), 2, np.random.default_rng(0),
                                   {"size": lambda model, data, g: data.size})
    assert history.sizes.tolist() == expected_sizes
    parts = seen[2].parts
    if policy.startswith("mix_real"):  # 4 fresh real images + 36 from generation 1
        assert [type(p).__name__ for p in parts] == ["RealImages", "DecoderSampler"]
        assert [p.size for p in parts] == [4, 36]
    else:  # real + generations 0 and 1
        assert [type(p).__name__ for p in parts] == ["RealImages", "DecoderSampler",
                                                     "DecoderSampler"]


def test_fixed_synthetic_samples_follow_the_growing_schedule():
    # growing with fixed samples: generation n trains on exactly M₀(n + 1) decoded images,
    # materialised once (a RealImages set), with the real epoch's batches (a fixed budget)
    images = tiny_images(20)
    family = VAEFamily(image_size=8, images_per_epoch=20, capacity=2, latent_dim=2,
                           epochs=1, batch_size=8, synthetic_samples="fixed")
    seen = record_fits(family)
    history = run_generations(family, RealImages(images),
                                   linear_growth(20), 3, np.random.default_rng(0),
                                   {"size": lambda model, data, g: data.size})
    assert history.sizes.tolist() == [20, 40, 60, 80]
    assert all(type(data) is RealImages for data in seen)
    assert [data.images.shape[0] for data in seen[1:]] == [40, 60, 80]
    assert not torch.equal(seen[1].images[:20], seen[1].images[20:])  # distinct draws
    assert family.batch_sizes == [8, 8, 4]
    with pytest.raises(ValueError, match="synthetic_samples must be one of fresh, fixed"):
        VAEFamily(image_size=8, images_per_epoch=10, synthetic_samples="cached")


def test_fixed_and_fresh_chains_share_generation_0_and_are_labelled_apart():
    settings = tiny_settings(n_generations=2)
    chains = run_experiment(settings, ["replace"], fixed_image_policies=["replace",
                                                                             "growing"])
    assert list(chains) == ["replace", "replace, fixed images",
                            "growing(M₀(n+1)), fixed images"]
    spreads = [runs[0].metrics["latent_spread"] for runs in chains.values()]
    assert spreads[0][0] == spreads[1][0] == spreads[2][0]
    assert not np.array_equal(spreads[0][1:], spreads[1][1:])
    with pytest.raises(ValueError, match="synthetic_samples"):
        chain_label("replace", "cached")


def test_same_seed_gives_identical_metrics_and_another_seed_does_not():
    settings = tiny_settings()
    first = run_policy(settings, "replace", 0)
    again = run_policy(settings, "replace", 0)
    other = run_policy(settings, "replace", 1)
    for name, values in first.metrics.items():
        assert np.array_equal(values, again.metrics[name]), name
    assert not np.array_equal(first.metrics["latent_spread"], other.metrics["latent_spread"])
    assert first.metrics["grid"].shape == (2, 2, 8, 8)
    assert first.metrics["class_shares"].shape == (2, 10)
    np.testing.assert_allclose(first.metrics["class_shares"].sum(axis=1), 1.0)
    np.testing.assert_allclose(first.metrics["class_entropy"],
                               scipy.stats.entropy(first.metrics["class_shares"], axis=1))


@pytest.mark.slow
def test_parallel_run_equals_serial_run():
    settings = tiny_settings(n_seeds=2)
    serial = run_experiment(settings, ["replace"], n_jobs=1)
    parallel = run_experiment(settings, ["replace"], n_jobs=2)
    for a, b in zip(serial["replace"], parallel["replace"]):
        assert np.array_equal(a.metrics["latent_spread"], b.metrics["latent_spread"])
        assert np.array_equal(a.metrics["class_shares"], b.metrics["class_shares"])


def test_evaluator_measures_against_the_reference_it_is_given():
    images = tiny_images(30)
    classifier = type("Constant", (), {"predict": lambda self, x: np.zeros(len(x), int)})()
    evaluator = GenerationEvaluator(images, classifier, n_samples=10, seed=0)
    model = build_vae(8, 2, 2, seed=0)
    with pytest.raises(ValueError, match="reference"):
        evaluator.evaluate(model, None)
    reference = evaluator.reference(model)
    result = evaluator.evaluate(model, reference)
    assert result["class_entropy"] == 0 and result["rarest_share"] == 0
    assert result["class_shares"][0] == 1
    assert result["frechet_real_halves"] == reference.real_halves_frechet
    # the same model measured against another reference: another latent space
    other = evaluator.evaluate(model, evaluator.reference(build_vae(8, 2, 2, seed=1)))
    assert other["latent_spread"] != result["latent_spread"]


def test_a_resumed_chain_equals_an_uninterrupted_one(tmp_path):
    """The generation-0 reference is a fold: saved in the checkpoints, so a chain stopped after
    generation 1 and resumed measures generation 2 against the same encoder."""
    images = tiny_images(24)
    classifier = type("Constant", (), {"predict": lambda self, x: np.zeros(len(x), int)})()

    def chain(n_generations, checkpointer=None):
        vae_family = VAEFamily(image_size=8, images_per_epoch=24, capacity=2, latent_dim=2,
                               epochs=1, batch_size=12)
        fold = EvaluationFold(GenerationEvaluator(images, classifier, n_samples=10, seed=3))
        return run_generations(vae_family, RealImages(images), Replace(), n_generations,
                               np.random.default_rng(7),
                               {"loss": lambda model, data, g: model.training_losses[-1]},
                               checkpointer=checkpointer, folds={"evaluation": fold})

    whole = chain(2)
    checkpointer = PickleCheckpointer(tmp_path)
    chain(1, checkpointer)
    resumed = chain(2, checkpointer)
    assert resumed.resumed_from == 1
    np.testing.assert_array_equal(resumed["loss"], whole["loss"])
    expected, got = (h.folds["evaluation"].stacked() for h in (whole, resumed))
    assert set(got) == set(METRIC_NAMES)
    for name in METRIC_NAMES:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


# --------------------------------------------------------------------------- Fréchet
def test_gaussian_frechet_matches_closed_form_for_diagonal_covariances():
    mean_a, mean_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert gaussian_frechet(mean_a, np.diag(var_a), mean_b, np.diag(var_b)) == \
        pytest.approx(expected, rel=1e-10)
    points = np.random.default_rng(0).normal(size=(50, 3))
    assert frechet_distance(points, points) == pytest.approx(0.0, abs=1e-8)


# --------------------------------------------------------------------------- MNIST / IDX
@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("array", [
    np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
    np.array([-5, 0, 7, 2**30], dtype=np.int32),
    np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)])
def test_idx_round_trip(tmp_path, array, suffix):
    path = write_idx(tmp_path / f"file-idx{suffix}", array)
    back = read_idx(path)
    assert back.dtype == array.dtype and np.array_equal(back, array)


def test_idx_header_is_the_documented_format(tmp_path):
    path = write_idx(tmp_path / "labels", np.array([3, 1, 4], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 3, 1, 4])


def write_tiny_mnist(root, n=60, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    suffix = ".gz" if gz else ""
    write_idx(root / "mnist" / f"train-images-idx3-ubyte{suffix}", images)
    write_idx(root / "mnist" / f"train-labels-idx1-ubyte{suffix}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_loader_round_trip(tmp_path, monkeypatch, gz):
    images, labels = write_tiny_mnist(tmp_path, gz=gz)
    loaded_images, loaded_labels = load_mnist("train", root=tmp_path)
    assert np.array_equal(loaded_images, images) and np.array_equal(loaded_labels, labels)
    monkeypatch.setenv("COLLAPSE_DATA_DIR", str(tmp_path))
    tensors, tensor_labels = load_images("mnist")
    assert tensors.shape == (60, 1, 28, 28) and tensors.dtype == torch.float32
    assert torch.equal(tensors[:, 0], torch.tensor(images, dtype=torch.float32) / 255)
    assert np.array_equal(tensor_labels, labels)


def test_mnist_checksums_are_enforced_and_missing_files_explained(tmp_path):
    write_tiny_mnist(tmp_path)
    folder = tmp_path / "mnist"
    (folder / "SHA256SUMS").write_text(f"{'0' * 64}  train-images-idx3-ubyte.gz\n")
    with pytest.raises(DataError, match="sha256"):
        load_mnist("train", root=tmp_path)
    with pytest.raises(DataError, match="download_mnist"):
        load_mnist("test", root=tmp_path)


def test_paper_profile_code_path_on_tiny_mnist(tmp_path, monkeypatch):
    """The `paper` settings (MNIST, the authors' conv net) run end to end on tiny IDX files
    this test writes, shrunk in size only (capacity, epochs, generations)."""
    write_tiny_mnist(tmp_path, n=60)
    monkeypatch.setenv("COLLAPSE_DATA_DIR", str(tmp_path))
    settings = profiles.settings("vae", "paper")
    settings.update(capacity=2, epochs=1, n_generations=1, n_eval_samples=20,
                    n_grid_images=2, device="cpu")
    result = run_policy(settings, "mix_real(0.1)", 0)
    assert result.metrics["grid"].shape == (2, 2, 28, 28)
    assert np.all(np.isfinite(result.metrics["frechet"]))


# --------------------------------------------------------------------------- bad inputs
def test_bad_idx_files_raise(tmp_path):
    bad_magic = tmp_path / "bad"
    bad_magic.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad_magic)
    truncated = tmp_path / "short.gz"
    truncated.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2])))
    with pytest.raises(ValueError, match="holds 2"):
        read_idx(truncated)
    with pytest.raises(ValueError, match="cannot be stored as IDX"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="unknown MNIST split 'valid'"):
        load_mnist("valid", root=tmp_path)


@pytest.mark.parametrize("images, match", [
    (torch.rand(3, 1, 8, 8) * 2, r"values in \[0, 1\]"),
    (torch.rand(3, 8, 8), "shape"),
    (torch.rand(3, 1, 10, 10), "divisible by 4"),
    (torch.full((3, 1, 8, 8), float("nan")), "finite"),
    (np.zeros((3, 1, 8, 8)), "torch.Tensor"),
])
def test_bad_images_raise(images, match):
    with pytest.raises(ValueError, match=match):
        RealImages(images)


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; allowed: digits, mnist"):
        load_images("cifar")
    with pytest.raises(ValueError, match="image_size must be divisible by 4"):
        ConvVAE(image_size=10)
    with pytest.raises(ValueError, match="capacity"):
        ConvVAE(image_size=8, capacity=0)
    with pytest.raises(ValueError, match="batch_size"):
        batch_sizes_for_epoch(100, 0)
    with pytest.raises(ValueError, match="epochs"):
        VAEFamily(image_size=8, images_per_epoch=10, epochs=0)
    with pytest.raises(ValueError, match="learning_rate"):
        VAEFamily(image_size=8, images_per_epoch=10, learning_rate=-1.0)
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="unknown policy 'keep'"):
        run_experiment(tiny_settings(), ["replace", "keep"])
    with pytest.raises(ValueError, match="n_samples"):
        GenerationEvaluator(tiny_images(4), None, n_samples=1, seed=0)
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(np.zeros((1, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="data must be an ImageSampler"):
        VAEFamily(image_size=8, images_per_epoch=10).fit(tiny_images(4),
                                                             np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown profile"):
        profiles.settings("vae", "huge")


def test_profiles_share_keys_and_paper_uses_the_authors_setup():
    keys = {name: set(profiles.PROFILES["vae"][name]) for name in profiles.PROFILE_NAMES}
    assert keys["smoke"] == keys["book"] == keys["paper"]
    paper = profiles.settings("vae", "paper")
    assert (paper.dataset, paper.capacity, paper.latent_dim, paper.epochs, paper.batch_size,
            paper.learning_rate, paper.weight_decay, paper.kl_weight) == \
        ("mnist", 64, 20, 30, 256, 1e-3, 1e-5, 1.0)
    book = profiles.settings("vae", "book")
    assert book.n_generations >= 20 and book.n_seeds >= 3
    assert set(book.policies) == {"replace", "mix_real(0.1)", "accumulate"}


def test_claim_criteria_helpers():
    assert spread_drop_matches(np.array([0.40, 0.45, 0.30]))
    assert not spread_drop_matches(np.array([0.90, 0.85, 0.95]))   # far beyond the paper's drop
    assert not spread_drop_matches(np.array([0.40, -0.05, 0.30]))  # one seed grows
    assert first_halving(np.array([0.10, 0.08, 0.04, 0.0])) == 2
    assert first_halving(np.array([0.10, 0.09, 0.08])) is None
    assert first_halving(np.array([0.0, 0.0])) is None
    assert effective_classes(np.log(np.array([10.0, 1.0]))).tolist() == pytest.approx([10, 1])


# --------------------------------------------------------------------------- claims
def synthetic_chain(label, seed, spread, effective, rarest, frechet) -> Chain:
    """A chain with the given per-generation latent spread, effective number of classes,
    rarest share and Fréchet distance (no VAE trained)."""
    spread = np.asarray(spread, float) * (1 + 0.01 * seed)
    zeros = np.zeros(len(spread))
    return Chain(label, seed, {"latent_spread": spread, "latent_mean": zeros,
                               "class_entropy": np.log(effective),
                               "rarest_share": np.asarray(rarest, float),
                               "frechet": np.asarray(frechet, float), "final_loss": zeros},
                 seconds=1.0, cpu_seconds=1.0)


def synthetic_runs(settings, collapsing: bool) -> VAERuns:
    """Two seeds per policy over generations 0..5 (the smoke profile's), with the paper's
    effects (``collapsing``) or with none (every quantity flat over generations)."""
    if collapsing:
        replace = dict(spread=[1.0, 0.68, 0.6, 0.55, 0.48, 0.43],
                       effective=[9, 8, 6, 4, 3, 2], rarest=[0.08, 0.05, 0.03, 0.01, 0, 0],
                       frechet=[0.1, 0.5, 1, 2, 3, 4])
        kept = dict(replace, effective=[9, 9, 8, 8, 8, 8], frechet=[0.1, 0.2, 0.2, 0.3, 0.3, 0.3])
        ablation = dict(spread=[1.0, 0.68, 0.45], effective=[9, 5, 2], rarest=[0.08, 0.02, 0],
                        frechet=[0.1, 1, 2])
    else:
        replace = dict(spread=[1.0] * 6, effective=[9] * 6, rarest=[0.08] * 6, frechet=[0.1] * 6)
        kept, ablation = replace, {key: value[:3] for key, value in replace.items()}
    shapes = {"replace": replace, "mix_real(0.1)": kept, "accumulate": kept}
    chains = {label: [synthetic_chain(label, seed, **shape) for seed in (-1, 1)]
              for label, shape in shapes.items()}
    return VAERuns(dict(settings), chains,
                   [synthetic_chain("replace", seed, **ablation) for seed in (-1, 1)],
                   {"entropy": np.log(9.5), "rarest_share": 0.09, "accuracy": 0.97}, Timings())


@pytest.mark.parametrize("collapsing, verdict", [(True, "reproduced"),
                                                 (False, "not reproduced")])
def test_claims_follow_the_effect_and_fail_without_it(collapsing, verdict):
    settings = profiles.settings("vae", "smoke")
    record = ChapterRecord("vae", settings)
    declare_claims(record, settings)
    runs = synthetic_runs(settings, collapsing)
    evaluate_claims(record, runs)
    verdicts = {claim.id: claim.verdict for claim in record.claims.values()}
    assert set(verdicts) == {"spread-shrinks", "spread-shrinks-authors-loss", "modes-vanish",
                             "tails-first", "distance-grows", "real-data-stops-it"}
    assert set(verdicts.values()) == {verdict}, verdicts
    record_metrics(record, runs)
    assert record.metrics["spread_drop_1_to_5"] == pytest.approx(
        1 - 0.43 / 0.68 if collapsing else 0.0)
    assert record.metrics["paper_spread_drop_1_to_5"] == [0.33, 0.38]
    assert np.asarray(record.metrics["latent_spread_by_seed"]["replace"]).shape == (6, 2)
