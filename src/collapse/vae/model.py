"""The VAEs (the authors' convolutional VAE; a fully connected VAE for the fast arm), their loss
(the negative ELBO), their training loop and the held-out ELBO.

Nothing here knows about generations: :mod:`collapse.vae.family` wraps training as the loop's
``fit``. Both networks share one interface: ``encode(images) -> (means, log-variances)``,
``decode(latents) -> pixel Bernoulli means``, ``latent_dim``, ``image_size``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.checks import check_sample_size

if TYPE_CHECKING:
    from .family import ImageSampler

__all__ = ["ConvVAE", "MLPVAE", "VAE", "ARCHITECTURES", "vae_loss", "build_vae",
           "resolve_device", "batch_sizes_for_epoch", "train_vae", "heldout_negative_elbo",
           "reconstruct"]

ARCHITECTURES = ("conv", "mlp")


class VAE(nn.Module):
    """What every VAE here has: ``encode``, ``decode``, ``latent_dim``, ``image_size`` and the
    reparameterised forward pass; ``training_losses`` is set by :func:`train_vae`."""

    image_size: int
    latent_dim: int
    training_losses: list[float]

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(latent means, latent log-variances), each (N, d), of images (N, 1, H, W)."""
        raise NotImplementedError

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Pixel Bernoulli means (N, 1, H, W) in (0, 1) of latents (N, d)."""
        raise NotImplementedError

    def forward(self, images: torch.Tensor, noise: torch.Tensor):
        """(reconstruction means, latent means, log-variances) with the reparameterised
        z = mean + exp(log-variance / 2) · noise, noise (N, d) standard normal."""
        mean, log_variance = self.encode(images)
        latents = mean + torch.exp(0.5 * log_variance) * noise
        return self.decode(latents), mean, log_variance


class ConvVAE(VAE):
    """The authors' convolutional VAE, for square images of side ``image_size`` (28 for MNIST,
    8 for the digits). With capacity c and latent dimension d:

    encoder: conv 4x4/2 (1 -> c), ReLU, conv 4x4/2 (c -> 2c), ReLU, flatten, two linear maps to
    the latent mean and log-variance (d each); decoder: linear (d -> 2c·s²), reshape to
    (2c, s, s) with s = image_size/4, transposed conv 4x4/2 (2c -> c), ReLU, transposed conv
    4x4/2 (c -> 1), sigmoid: the Bernoulli means of the pixels. MNIST, c = 64, d = 20: 647,081
    parameters.
    """

    def __init__(self, image_size: int = 28, capacity: int = 64, latent_dim: int = 20):
        super().__init__()
        self.image_size = check_sample_size(image_size, "image_size", minimum=4)
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {image_size}")
        self.capacity = check_sample_size(capacity, "capacity", minimum=1)
        self.latent_dim = check_sample_size(latent_dim, "latent_dim", minimum=1)
        c, side = capacity, image_size // 4
        self.feature_shape = (2 * c, side, side)
        features = 2 * c * side * side
        self.encoder_conv1 = nn.Conv2d(1, c, kernel_size=4, stride=2, padding=1)
        self.encoder_conv2 = nn.Conv2d(c, 2 * c, kernel_size=4, stride=2, padding=1)
        self.to_mean = nn.Linear(features, latent_dim)
        self.to_log_variance = nn.Linear(features, latent_dim)
        self.from_latent = nn.Linear(latent_dim, features)
        self.decoder_conv2 = nn.ConvTranspose2d(2 * c, c, kernel_size=4, stride=2, padding=1)
        self.decoder_conv1 = nn.ConvTranspose2d(c, 1, kernel_size=4, stride=2, padding=1)
        self.training_losses: list[float] = []  # set by train_vae: mean loss of each epoch

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = F.relu(self.encoder_conv2(F.relu(self.encoder_conv1(images))))
        hidden = hidden.flatten(1)
        return self.to_mean(hidden), self.to_log_variance(hidden)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        hidden = self.from_latent(latents).view(-1, *self.feature_shape)
        return torch.sigmoid(self.decoder_conv1(F.relu(self.decoder_conv2(hidden))))


class MLPVAE(VAE):
    """A fully connected VAE (Kingma & Welling's MNIST network; the PyTorch example's VAE):
    encoder linear (H·W -> h), ReLU, two linear maps to the latent mean and log-variance
    (d each); decoder linear (d -> h), ReLU, linear (h -> H·W), sigmoid. With h = 400, d = 20 on
    MNIST: 652,824 parameters, about as many as the authors' conv VAE, trained ~15x faster on a
    CPU. ``capacity`` is the hidden width h."""

    def __init__(self, image_size: int = 28, capacity: int = 400, latent_dim: int = 20):
        super().__init__()
        self.image_size = check_sample_size(image_size, "image_size", minimum=1)
        self.capacity = check_sample_size(capacity, "capacity", minimum=1)
        self.latent_dim = check_sample_size(latent_dim, "latent_dim", minimum=1)
        pixels = image_size * image_size
        self.hidden = nn.Linear(pixels, capacity)
        self.to_mean = nn.Linear(capacity, latent_dim)
        self.to_log_variance = nn.Linear(capacity, latent_dim)
        self.from_latent = nn.Linear(latent_dim, capacity)
        self.to_pixels = nn.Linear(capacity, pixels)
        self.training_losses: list[float] = []

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = F.relu(self.hidden(images.flatten(1)))
        return self.to_mean(hidden), self.to_log_variance(hidden)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        pixels = torch.sigmoid(self.to_pixels(F.relu(self.from_latent(latents))))
        return pixels.view(-1, 1, self.image_size, self.image_size)



def vae_loss(reconstruction: torch.Tensor, images: torch.Tensor, mean: torch.Tensor,
             log_variance: torch.Tensor, kl_weight: float = 1.0) -> torch.Tensor:
    """The negative ELBO summed over a batch: binary cross-entropy of the images under the
    pixel Bernoulli means, plus ``kl_weight`` x KL(N(mean, exp(log_variance)) || N(0, I)) in
    closed form, -1/2 Σ (1 + log σ² - μ² - σ²). Summed over pixels, latent dimensions and
    images. ``kl_weight`` = 1 is the authors' loss (the ELBO)."""
    cross_entropy = F.binary_cross_entropy(reconstruction, images, reduction="sum")
    kl = -0.5 * torch.sum(1 + log_variance - mean.pow(2) - log_variance.exp())
    return cross_entropy + kl_weight * kl


def build_vae(image_size: int, capacity: int, latent_dim: int, seed: int,
              device: torch.device | str = "cpu", architecture: str = "conv") -> VAE:
    """A freshly initialised VAE (:class:`ConvVAE` for ``architecture="conv"``,
    :class:`MLPVAE` for ``"mlp"``; PyTorch's default initialisation), its weights a
    deterministic function of ``seed``; the global torch random state is left untouched."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; allowed: "
                         f"{', '.join(ARCHITECTURES)}")
    network = ConvVAE if architecture == "conv" else MLPVAE
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = network(image_size, capacity, latent_dim)
    return model.to(device)


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; allowed: 'auto', 'cpu', 'cuda', "
                         f"'cuda:N'") from None


def batch_sizes_for_epoch(images_per_epoch: int, batch_size: int) -> list[int]:
    """Batch sizes of one epoch of ``images_per_epoch`` images (the last batch is partial)."""
    images_per_epoch = check_sample_size(images_per_epoch, "images_per_epoch", minimum=1)
    batch_size = check_sample_size(batch_size, "batch_size", minimum=1)
    full, rest = divmod(images_per_epoch, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


def train_vae(model: VAE, data: "ImageSampler", epochs: int, batch_sizes: Sequence[int],
              learning_rate: float, weight_decay: float, generator: torch.Generator,
              kl_weight: float = 1.0,
              on_epoch: Callable[[int, VAE], None] | None = None) -> list[float]:
    """Train ``model`` in place with Adam on batches drawn from ``data``; returns the mean
    negative ELBO per image of each epoch (nats), also kept as ``model.training_losses`` (so a
    per-generation metric can read it from the model alone). ``on_epoch(epoch, model)`` is
    called after each epoch (1, 2, ...) with the model in eval mode and no gradients; it must
    not draw from ``generator``."""
    epochs = check_sample_size(epochs, "epochs", minimum=1)
    device = next(model.parameters()).device
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate,
                                 weight_decay=weight_decay)
    model.train()
    losses = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for images in data.epoch(batch_sizes, generator):
            images = images.to(device)
            noise = torch.randn(images.shape[0], model.latent_dim, generator=generator,
                                device=generator.device).to(device)
            reconstruction, mean, log_variance = model(images, noise)
            loss = vae_loss(reconstruction, images, mean, log_variance, kl_weight)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total, count = total + float(loss.detach()), count + images.shape[0]
        losses.append(total / count)
        if on_epoch is not None:
            model.eval()
            with torch.no_grad():
                on_epoch(len(losses), model)
            model.train()
    model.eval()
    model.requires_grad_(False)
    model.training_losses = losses
    return losses


def heldout_negative_elbo(model: VAE, images: torch.Tensor, seed: int = 0,
                          chunk: int = 2048) -> float:
    """Mean negative ELBO per image (nats) of ``images`` (N, 1, H, W) under ``model``: pixel
    BCE at one reparameterised latent sample per image (noise from a torch generator seeded by
    ``seed``) plus the closed-form KL; the authors' loss with weight 1, averaged over images."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    with torch.no_grad():
        for part in images.split(chunk):
            noise = torch.randn(len(part), model.latent_dim, generator=generator).to(device)
            part = part.to(device)
            reconstruction, mean, log_variance = model(part, noise)
            total += float(vae_loss(reconstruction, part, mean, log_variance))
    return total / len(images)


def reconstruct(model: VAE, images: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Decoder means (N, 1, H, W) at the encoder means of ``images``: the model's deterministic
    reconstructions."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return torch.cat([model.decode(model.encode(part.to(device))[0]).cpu()
                          for part in images.split(chunk)])
