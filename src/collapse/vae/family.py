"""The VAE as a family of the generational loop: fitting and sampling only.

Generation 0 is a VAE (:class:`collapse.vae.model.ConvVAE`, the authors' network, or
:class:`collapse.vae.model.MLPVAE`) trained on real digits. Generation k+1 is a freshly initialised VAE trained only on images decoded (decoder
means, not sampled pixels) from z ~ N(0, I) by generation k's decoder, with fresh samples for
every batch and as many batches per epoch as an epoch of the real data. In the shared loop
(:mod:`collapse.core.loop`) a dataset of this family is therefore a *sampler*
(:class:`ImageSampler`), and :class:`SamplerData` tells the data policies how to size, pool and
subsample samplers:

* ``size``: the number of images a sampler stands for (its share in a pool);
* ``concat`` (the `accumulate` pool and `mix_real`'s mixture): a :class:`PoolSampler` drawing
  each image from one of its parts with probability proportional to the parts' sizes;
* ``take(real, n)``: a :class:`RealImages` sampler over ``n`` real images drawn without
  replacement (other samplers are materialised: ``n`` images drawn once and then fixed).

With ``synthetic_samples="fixed"`` (:data:`SYNTHETIC_SAMPLES`) the family departs from the
authors' loop: each generation's synthetic data is a fixed set of M decoded images, drawn once,
so that the sample size M is a parameter of the loop as in the other families (the `growing`
policy, M_n = M_0 (n + 1), needs it; with fresh samples every batch M only weighs pools).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
import torch

from ..core.checks import check_sample_size
from ..core.family import GenerationContext
from .data import check_images
from .model import VAE, batch_sizes_for_epoch, build_vae, resolve_device, train_vae

__all__ = ["ImageSampler", "RealImages", "DecoderSampler", "PoolSampler", "SamplerData",
           "VAEFamily", "SYNTHETIC_SAMPLES", "EPOCH_IMAGES", "check_synthetic_samples"]

# how many images an epoch has: an epoch of the "real" data, or of the training "pool"
EPOCH_IMAGES = ("real", "pool")
# what a generation's synthetic data is: "fresh" decoder samples for every batch (the authors'
# loop) or a "fixed" set of M decoded images drawn once (the sample size M then matters)
SYNTHETIC_SAMPLES = ("fresh", "fixed")


class ImageSampler:
    """A dataset of the VAE family: something that draws images. ``size`` is the number of
    images it stands for (its weight in a pool); ``image_shape`` is (1, H, W)."""

    size: int
    image_shape: tuple[int, int, int]

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` images (n, 1, H, W) in [0, 1]."""
        raise NotImplementedError

    def epoch(self, batch_sizes: Sequence[int], generator: torch.Generator):
        """The batches of one training epoch: ``sum(batch_sizes)`` images drawn with
        :meth:`draw`, split into batches of the given sizes. Every image is used once, so for a
        decoder this is "fresh samples every batch"."""
        return self.draw(int(sum(batch_sizes)), generator).split(list(batch_sizes))


class RealImages(ImageSampler):
    """A fixed set of images (N, 1, H, W). :meth:`draw` walks through random permutations, so
    an epoch of N images sees every image exactly once (ordinary shuffled epochs)."""

    def __init__(self, images: torch.Tensor):
        self.images = check_images(images)
        self.size = int(images.shape[0])
        self.image_shape = tuple(images.shape[1:])

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        n = check_sample_size(n, "n", minimum=0)
        passes = max(1, math.ceil(n / self.size))
        order = torch.cat([torch.randperm(self.size, generator=generator,
                                          device=generator.device)
                           for _ in range(passes)])[:n]
        return self.images[order.to(self.images.device)]

    def __repr__(self) -> str:
        return f"RealImages(size={self.size})"


class DecoderSampler(ImageSampler):
    """Images decoded by a trained VAE's decoder from z ~ N(0, I): the decoder *means* (not
    Bernoulli-sampled pixels), as in the authors' code. Fresh latents at every draw."""

    chunk = 4096  # images decoded per forward pass (bounds memory for MNIST-size epochs)

    def __init__(self, model: VAE, size: int):
        self.model = model
        self.size = check_sample_size(size, "size", minimum=1)
        self.image_shape = (1, model.image_size, model.image_size)

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        n = check_sample_size(n, "n", minimum=0)
        device = next(self.model.parameters()).device
        latents = torch.randn(n, self.model.latent_dim, generator=generator,
                              device=generator.device).to(device)
        with torch.no_grad():
            if n == 0:
                return torch.empty(0, *self.image_shape, device=device)
            return torch.cat([self.model.decode(part) for part in latents.split(self.chunk)])

    def __repr__(self) -> str:
        return f"DecoderSampler(size={self.size})"


class PoolSampler(ImageSampler):
    """A mixture of samplers: each image comes from part k with probability
    size_k / Σ size (the `accumulate` pool; `mix_real`'s real + generated mixture)."""

    def __init__(self, parts: Sequence[ImageSampler]):
        flat = []
        for part in parts:
            flat.extend(part.parts if isinstance(part, PoolSampler) else [part])
        if not flat:
            raise ValueError("parts must hold at least one sampler")
        shapes = {part.image_shape for part in flat}
        if len(shapes) != 1:
            raise ValueError(f"parts must share one image shape, got {sorted(shapes)}")
        self.parts = flat
        self.size = int(sum(part.size for part in flat))
        self.image_shape = flat[0].image_shape
        self.weights = torch.tensor([part.size for part in flat], dtype=torch.float64)

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        n = check_sample_size(n, "n", minimum=0)
        source = torch.multinomial(self.weights.to(generator.device), n, replacement=True,
                                   generator=generator) if n else torch.zeros(0, dtype=torch.long)
        images = None
        for index, part in enumerate(self.parts):
            slots = torch.nonzero(source == index).flatten()
            if len(slots) == 0:
                continue
            drawn = part.draw(len(slots), generator)
            if images is None:
                images = torch.empty(n, *self.image_shape, device=drawn.device)
            # parts may live on different devices (real images on the CPU, a decoder on a GPU)
            images[slots.to(images.device)] = drawn.to(images.device)
        return images if images is not None else torch.empty(0, *self.image_shape)

    def __repr__(self) -> str:
        return f"PoolSampler({', '.join(map(repr, self.parts))})"


class SamplerData:
    """The loop's :class:`collapse.core.family.DataType` for samplers (see the module docstring)."""

    def size(self, data: ImageSampler) -> int:
        return int(data.size)

    def concat(self, parts: Sequence[ImageSampler]) -> ImageSampler:
        parts = list(parts)
        return parts[0] if len(parts) == 1 else PoolSampler(parts)

    def take(self, data: ImageSampler, n: int, rng: np.random.Generator) -> RealImages:
        n = check_sample_size(n, "n", minimum=1)
        if n > data.size:
            raise ValueError(f"cannot take {n} images from a sampler of size {data.size}")
        if isinstance(data, RealImages):
            return RealImages(data.images[torch.as_tensor(
                rng.choice(data.size, size=n, replace=False))])
        generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
        return RealImages(data.draw(n, generator).clamp(0, 1))


@dataclasses.dataclass
class VAEFamily:
    """The loop's family: ``fit`` trains a fresh VAE (``architecture``: "conv" or "mlp", see
    :func:`collapse.vae.model.build_vae`) on a sampler, ``generate`` wraps a trained model as a
    :class:`DecoderSampler`.

    Every generation trains ``epochs`` epochs. With ``epoch_images="real"`` an epoch is
    ``images_per_epoch`` images (an epoch of the real data, whatever the pool: a fixed compute
    budget per generation); with ``"pool"`` it is as many images as the training data stands for
    (``data.size``), so the budget grows with an `accumulate` pool and each real image in it is
    seen as often, in expectation, as in generation 0.
    ``synthetic_samples`` (:data:`SYNTHETIC_SAMPLES`): "fresh" (the authors' loop) wraps the
    model as a :class:`DecoderSampler`; "fixed" decodes exactly n images once (n · 4 · H · W
    bytes: 38 MB for 1,000 MNIST-size images; the growing schedule's last generation holds
    M_0 (N + 1) of them) and trains on shuffled passes over them.
    The model's initial weights and every batch come from two torch seeds drawn from the
    loop's ``numpy.random.Generator``: the same seed gives the same models and metrics. The
    family keeps no state: each fitted model carries its own ``training_losses``.
    """

    image_size: int
    images_per_epoch: int
    capacity: int = 64
    latent_dim: int = 20
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    kl_weight: float = 1.0
    device: str = "cpu"
    synthetic_samples: str = "fresh"
    architecture: str = "conv"
    epoch_images: str = "real"
    data_type: SamplerData = dataclasses.field(default_factory=SamplerData)

    def __post_init__(self):
        check_synthetic_samples(self.synthetic_samples)
        if self.epoch_images not in EPOCH_IMAGES:
            raise ValueError(f"epoch_images must be one of {', '.join(EPOCH_IMAGES)}, got "
                             f"{self.epoch_images!r}")
        self.batch_sizes = batch_sizes_for_epoch(self.images_per_epoch, self.batch_size)
        check_sample_size(self.epochs, "epochs", minimum=1)
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        self.torch_device = resolve_device(self.device)

    def fit(self, data: ImageSampler, rng: np.random.Generator, on_epoch=None) -> VAE:
        """A fresh VAE trained on ``data``; ``on_epoch(epoch, model)`` as in
        :func:`collapse.vae.model.train_vae`."""
        if not isinstance(data, ImageSampler):
            raise ValueError(f"data must be an ImageSampler, got {type(data).__name__}")
        init_seed, batch_seed = (int(seed) for seed in rng.integers(2**63 - 1, size=2))
        model = build_vae(self.image_size, self.capacity, self.latent_dim, init_seed,
                          self.torch_device, self.architecture)
        generator = torch.Generator(device=self.torch_device).manual_seed(batch_seed)
        batch_sizes = (self.batch_sizes if self.epoch_images == "real"
                       else batch_sizes_for_epoch(data.size, self.batch_size))
        train_vae(model, data, self.epochs, batch_sizes, self.learning_rate,
                  self.weight_decay, generator, self.kl_weight, on_epoch)
        return model

    def generate(self, model: VAE, n: int, rng: np.random.Generator,
                 context: GenerationContext) -> ImageSampler:
        sampler = DecoderSampler(model, n)
        if self.synthetic_samples == "fresh":
            # The latents are drawn lazily, batch by batch, from the next fit's torch generator.
            return sampler
        generator = torch.Generator(device=self.torch_device).manual_seed(
            int(rng.integers(2**63 - 1)))
        return RealImages(sampler.draw(sampler.size, generator))


def check_synthetic_samples(mode: str) -> str:
    """``mode`` if it is one of :data:`SYNTHETIC_SAMPLES`, else ValueError naming them."""
    if mode not in SYNTHETIC_SAMPLES:
        raise ValueError(f"synthetic_samples must be one of {', '.join(SYNTHETIC_SAMPLES)}, "
                         f"got {mode!r}")
    return mode
