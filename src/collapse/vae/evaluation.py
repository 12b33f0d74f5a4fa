"""What the VAE chapter measures on each generation (paper: the latent spread; beyond it, the
digit classes, a Fréchet distance, and how well the generation still models real digits).

The paper's metric (``latent_spread``): decode prior samples with generation k, encode them with
the *generation-0* encoder, and take the mean and standard deviation of the latent means over
all samples and latent dimensions (authors: std 0.68-0.70 at the 1st generation trained on
generated data, 0.43-0.47 at the 5th). Beyond it, :class:`GenerationEvaluator` labels each
generation's samples with a digit classifier trained on the real training digits (class shares,
their entropy, the rarest class's share), computes the Fréchet distance between held-out real
and generated images in the generation-0 encoder's latent space, and scores the held-out real
digits under generation k (negative ELBO per image; the classifier's accuracy on generation k's
reconstructions of them). At generation 0 the last two, with the class coverage, are the gate.

Every generation is measured against generation 0's encoder, a quantity carried across
generations: :class:`EvaluationFold` carries it (a :class:`collapse.core.loop.Fold`, saved in
the loop's checkpoints, so a resumed chain equals an uninterrupted one).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg
import scipy.stats
import torch

from ..core.checks import check_sample_size
from ..core.loop import Fold
from .data import check_images
from .family import DecoderSampler
from .model import VAE, heldout_negative_elbo, reconstruct

__all__ = ["DigitClassifier", "train_classifier", "gaussian_frechet", "frechet_distance",
           "encode_means", "Reference", "GenerationEvaluator", "Evaluations", "EvaluationFold",
           "label_shares", "effective_classes", "DENSITY_EDGES", "METRIC_NAMES"]

DENSITY_EDGES = np.linspace(-4, 4, 81)  # bins of the latent-mean densities (paper's view)
METRIC_NAMES = ("latent_mean", "latent_spread", "latent_density", "class_shares",
                "class_entropy", "rarest_share", "frechet", "frechet_real_halves",
                "heldout_elbo", "reconstruction_accuracy", "grid")


@dataclasses.dataclass(frozen=True)
class DigitClassifier:
    """A digit classifier trained on real training digits, with its reference values on the
    held-out real digits: ``accuracy``, the ``shares`` (10,) of its labels, their entropy
    ``entropy`` (nats) and ``rarest_share``."""

    model: object
    accuracy: float
    shares: np.ndarray
    entropy: float
    rarest_share: float

    def predict(self, images: torch.Tensor) -> np.ndarray:
        """Labels (N,) of images (N, 1, H, W)."""
        return self.model.predict(images.reshape(len(images), -1).cpu().numpy())


def train_classifier(train_images: torch.Tensor, train_labels: np.ndarray,
                     test_images: torch.Tensor, test_labels: np.ndarray) -> DigitClassifier:
    """Logistic regression on raw pixels (scikit-learn, L2 penalty C = 0.1), fitted on the real
    training digits and scored on the held-out ones. It labels generated samples for the class
    metrics and reconstructions for the gate's accuracy."""
    from sklearn.linear_model import LogisticRegression
    features = train_images.reshape(len(train_images), -1).cpu().numpy()
    model = LogisticRegression(max_iter=2000, C=0.1).fit(features, train_labels)
    predicted = model.predict(test_images.reshape(len(test_images), -1).cpu().numpy())
    shares = np.bincount(predicted, minlength=10) / len(predicted)
    return DigitClassifier(model, float(np.mean(predicted == test_labels)), shares,
                           float(scipy.stats.entropy(shares)), float(shares.min()))


def gaussian_frechet(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray,
                     cov_b: np.ndarray) -> float:
    """Fréchet (2-Wasserstein²) distance between N(mean_a, cov_a) and N(mean_b, cov_b):
    |m_a - m_b|² + tr(C_a + C_b - 2 (C_a C_b)^{1/2})."""
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    root = np.real(root)
    value = (np.sum((mean_a - mean_b) ** 2)
             + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))
    return float(max(value, 0.0))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (n_a, d) and (n_b, d)
    (the FID recipe; here the features are generation-0 latent means)."""
    features_a, features_b = np.atleast_2d(features_a), np.atleast_2d(features_b)
    for name, features in (("features_a", features_a), ("features_b", features_b)):
        if features.shape[0] < 2:
            raise ValueError(f"{name} needs at least 2 rows (samples), got {features.shape[0]}")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"feature dimensions differ: {features_a.shape[1]} vs "
                         f"{features_b.shape[1]}")
    return gaussian_frechet(features_a.mean(0), np.atleast_2d(np.cov(features_a, rowvar=False)),
                            features_b.mean(0), np.atleast_2d(np.cov(features_b, rowvar=False)))


def encode_means(encoder: VAE, images: torch.Tensor) -> np.ndarray:
    """``encoder``'s latent means (N, d), float64, of images (N, 1, H, W)."""
    device = next(encoder.parameters()).device
    with torch.no_grad():
        means = [encoder.encode(part.to(device))[0]
                 for part in images.split(DecoderSampler.chunk)]
    return torch.cat(means).cpu().double().numpy()


def label_shares(classifier, images: torch.Tensor, n_classes: int = 10) -> np.ndarray:
    """Shares (n_classes,) of the classifier's labels (``classifier.predict(images)``, as
    :class:`DigitClassifier`) of images (N, 1, H, W)."""
    labels = np.asarray(classifier.predict(images))
    return np.bincount(labels, minlength=n_classes) / len(labels)


def effective_classes(entropy: np.ndarray) -> np.ndarray:
    """exp(class-share entropy): the number of equally common classes with that entropy
    (10 for balanced digits, 1 for a single class)."""
    return np.exp(entropy)


@dataclasses.dataclass(frozen=True)
class Reference:
    """Generation 0's model, whose encoder embeds every generation's samples, with the held-out
    real images' latent means under it (N, d) and the Fréchet distance between the two halves
    of those (the sampling-noise floor of the distance)."""

    model: VAE
    real_latents: np.ndarray
    real_halves_frechet: float


class GenerationEvaluator:
    """Per-generation metrics of the VAE loop (no state: the reference is an argument).

    For generation k, ``n_samples`` prior samples are decoded by generation k (decoder means)
    and, with the ``reference`` (:meth:`reference` of generation 0's model) and the held-out
    real digits ``real_images`` (N, 1, H, W) with their ``real_labels`` (N,):

    * ``latent_mean``, ``latent_spread``: mean and std of the reference encoder's latent means
      over all samples and latent dimensions (the paper's metric);
    * ``latent_density``: histogram density of those latent means on ``density_edges``;
    * ``class_shares`` (10,): shares of the classifier's labels; ``class_entropy`` (nats) and
      ``rarest_share``: their entropy and minimum;
    * ``frechet``: Fréchet distance between real and generated images' reference latent means;
      ``frechet_real_halves``: the same between two halves of the real images (noise floor);
    * ``heldout_elbo``: the real digits' negative ELBO per image under generation k (nats);
      ``reconstruction_accuracy``: the classifier's accuracy on generation k's reconstructions
      of them (decoder means at the encoder means);
    * ``grid`` (n_grid, H, W): the decoder means of a fixed set of latents (the same for every
      generation), for sample grids.

    The latents are fixed by ``seed`` (common random numbers across generations).
    """

    def __init__(self, real_images: torch.Tensor, real_labels: np.ndarray, classifier,
                 n_samples: int, seed: int, n_grid: int = 16,
                 density_edges: np.ndarray | None = None, n_classes: int = 10):
        self.real_images = check_images(real_images, "real_images")
        self.real_labels = np.asarray(real_labels)
        if self.real_labels.shape != (len(real_images),):
            raise ValueError(f"real_labels must have shape ({len(real_images)},), got "
                             f"{self.real_labels.shape}")
        self.classifier = classifier
        self.n_samples = check_sample_size(n_samples, "n_samples")
        self.n_grid = check_sample_size(n_grid, "n_grid", minimum=1)
        self.seed = int(seed)
        self.n_classes = n_classes
        self.density_edges = (DENSITY_EDGES if density_edges is None
                              else np.asarray(density_edges, dtype=float))

    def reference(self, model: VAE) -> Reference:
        """``model`` (generation 0) as the reference: embeds the real images once."""
        real_latents = encode_means(model, self.real_images)
        return Reference(model, real_latents,
                         frechet_distance(real_latents[0::2], real_latents[1::2]))

    def samples(self, model: VAE) -> torch.Tensor:
        """The ``n_samples`` prior samples (decoder means, (n, 1, H, W)) :meth:`evaluate`
        measures: the same latents for every model."""
        generator = torch.Generator().manual_seed(self.seed)
        return DecoderSampler(model, self.n_samples).draw(self.n_samples, generator).cpu()

    def evaluate(self, model: VAE, reference: Reference) -> dict[str, np.ndarray]:
        """Every metric of :data:`METRIC_NAMES` for ``model``, measured with ``reference``."""
        if not isinstance(reference, Reference):
            raise ValueError(f"reference must be a Reference (GenerationEvaluator.reference of "
                             f"the generation-0 model), got {type(reference).__name__}")
        generator = torch.Generator().manual_seed(self.seed)
        samples = DecoderSampler(model, self.n_samples).draw(self.n_samples, generator).cpu()
        grid = DecoderSampler(model, self.n_grid).draw(self.n_grid, generator).cpu()
        latents = encode_means(reference.model, samples)
        shares = label_shares(self.classifier, samples, self.n_classes)
        density, _ = np.histogram(latents.ravel(), bins=self.density_edges, density=True)
        rebuilt = reconstruct(model, self.real_images)
        return {
            "latent_mean": np.float64(latents.mean()),
            "latent_spread": np.float64(latents.std()),
            "latent_density": density,
            "class_shares": shares,
            "class_entropy": np.float64(scipy.stats.entropy(shares)),
            "rarest_share": np.float64(shares.min()),
            "frechet": np.float64(frechet_distance(reference.real_latents, latents)),
            "frechet_real_halves": np.float64(reference.real_halves_frechet),
            "heldout_elbo": np.float64(heldout_negative_elbo(model, self.real_images, self.seed)),
            "reconstruction_accuracy": np.float64(np.mean(
                self.classifier.predict(rebuilt) == self.real_labels)),
            "grid": grid[:, 0].numpy(),
        }


@dataclasses.dataclass(frozen=True)
class Evaluations:
    """The value :class:`EvaluationFold` carries: the reference and each generation's metrics
    so far (one dict per generation)."""

    reference: Reference
    rows: tuple[dict[str, np.ndarray], ...]

    def stacked(self) -> dict[str, np.ndarray]:
        """name -> metric of every generation, shape (n_generations + 1, ...)."""
        return {name: np.stack([np.asarray(row[name]) for row in self.rows])
                for name in self.rows[0]}


class EvaluationFold(Fold):
    """The loop's :class:`collapse.core.loop.Fold` for the VAE metrics: generation 0's model
    becomes the reference, and every generation (0 included) is evaluated against it by
    ``evaluator`` (:class:`GenerationEvaluator`)."""

    def __init__(self, evaluator: GenerationEvaluator):
        self.evaluator = evaluator

    def start(self, model: VAE, data) -> Evaluations:
        reference = self.evaluator.reference(model)
        return Evaluations(reference, (self.evaluator.evaluate(model, reference),))

    def step(self, value: Evaluations, model: VAE, data, generation: int) -> Evaluations:
        row = self.evaluator.evaluate(model, value.reference)
        return Evaluations(value.reference, value.rows + (row,))
