"""The VAE chapter's images: scikit-learn's 8x8 digits (the `smoke` data), the 10,000 real
28x28 MNIST digits of ``<data root>/mnist-10k`` (`book`), or the full MNIST of
``<data root>/mnist`` (`paper`, when present) — and the seeded train / held-out split every
arm uses (:func:`load_split`).

Folders in the data root (:func:`collapse.core.data.data_root`):

* ``mnist-10k/``: ``images-idx3-ubyte`` (10000, 28, 28) and ``labels-idx1-ubyte`` (10000,),
  with a ``SHA256SUMS`` file that is always checked (the images are ordered by class: the split
  shuffles them with a seed);
* ``mnist/``: the four files of full MNIST, gzipped or not: ``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, checked
  against a ``SHA256SUMS`` when the folder has one.

When files are missing from the data root and a network is there, they are fetched
(:func:`collapse.core.data.fetch`: pinned sha256, placed atomically; never in the tests, which
set ``COLLAPSE_OFFLINE``).

IDX format (LeCun et al.): a big-endian header ``0x00 0x00 <type code> <number of dims>``, one
big-endian uint32 per dimension, then the values in C order, big-endian.
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch

from ..core.checks import check_sample_size
from ..core.data import (DataError, data_root, fetch, note_data_file, read_checksums,
                         verified_file)
from ..core.io import atomic_write_bytes

__all__ = ["DATASETS", "ImageSplit", "load_split", "resolve_dataset", "load_images",
           "check_images", "read_idx", "write_idx", "mnist_folder", "load_mnist",
           "load_mnist_10k", "download_mnist", "MNIST_FILES", "MNIST_SPLITS", "MNIST_10K",
           "MNIST_10K_FILES"]

# "mnist": full MNIST when the data root holds it, else the 10,000 digits of mnist-10k
DATASETS = ("digits", "mnist-10k", "mnist-full", "mnist")
MNIST_10K = "mnist-10k"
MNIST_10K_FILES = ("images-idx3-ubyte", "labels-idx1-ubyte")


def check_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    """Validate an image batch: float tensor (N, 1, H, W), N >= 1, H = W divisible by 4, values
    in [0, 1] (BCE targets). Returns it unchanged; raises ValueError naming ``name``."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise ValueError(f"{name} must be a float torch.Tensor of shape (N, 1, H, W), "
                         f"got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 1 or images.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N >= 1, 1, H, W), got {tuple(images.shape)}")
    height, width = images.shape[2:]
    if height != width or height % 4 or height < 4:
        raise ValueError(f"{name} must be square with a side divisible by 4 (two stride-2 "
                         f"convolutions), got {height}x{width}")
    if not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise ValueError(f"{name} must hold finite values in [0, 1] (pixel intensities, the "
                         f"BCE targets)")
    return images


def _full_mnist_present(root: str | os.PathLike | None = None) -> bool:
    folder = mnist_folder(root)
    return all(any((folder / f"{stem}{suffix}").is_file() for suffix in ("", ".gz"))
               for stem in MNIST_SPLITS["train"] + MNIST_SPLITS["test"])


def resolve_dataset(dataset: str, root: str | os.PathLike | None = None) -> str:
    """The concrete data set ``dataset`` names: ``"mnist"`` becomes ``"mnist-full"`` when the
    data root holds full MNIST, else ``"mnist-10k"``; the others name themselves."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; allowed: {', '.join(DATASETS)}")
    if dataset == "mnist":
        return "mnist-full" if _full_mnist_present(root) else MNIST_10K
    return dataset


def load_images(dataset: str, split: str = "train") -> tuple[torch.Tensor, np.ndarray]:
    """Real images (N, 1, H, W) float32 in [0, 1] and their labels (N,) of a data set
    (:data:`DATASETS`).

    ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, pixel values 0..16 divided by
    16). ``mnist-10k``: the 10,000 digits of ``<data root>/mnist-10k``, sha256-checked.
    ``mnist-full``: full MNIST ``split`` ('train' or 'test'); ``mnist``: either, as
    :func:`resolve_dataset` says. 28x28 pixel values 0..255 divided by 255. ``split`` only
    matters for full MNIST.
    """
    dataset = resolve_dataset(dataset)
    if dataset == "digits":
        from sklearn.datasets import load_digits
        bunch = load_digits()
        images = torch.tensor(bunch.images / 16.0, dtype=torch.float32)
        labels = bunch.target
    else:
        raw, labels = load_mnist(split) if dataset == "mnist-full" else load_mnist_10k()
        images = torch.tensor(raw, dtype=torch.float32) / 255.0
    return check_images(images.unsqueeze(1)), np.asarray(labels, dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class ImageSplit:
    """Real images split into a training set (every generation 0 trains on it) and a held-out
    set (the gate's ELBO and reconstructions, the Fréchet reference, the real-digit row):
    images (N, 1, H, W) in [0, 1], labels (N,). ``dataset``: the concrete data set."""

    dataset: str
    train_images: torch.Tensor
    train_labels: np.ndarray
    test_images: torch.Tensor
    test_labels: np.ndarray


def load_split(dataset: str, held_out: int, seed: int) -> ImageSplit:
    """The seeded train / held-out split of a data set: ``held_out`` images drawn (without
    replacement, by ``numpy.random.default_rng(seed)``) for the held-out set, the rest for
    training. Full MNIST trains on its 60,000 training images and draws the held-out images
    from its test split. Cached per process (the same arguments give the same tensors)."""
    held_out = check_sample_size(held_out, "held_out", minimum=2)
    return _load_split(resolve_dataset(dataset), held_out, int(seed), str(data_root()))


@functools.lru_cache(maxsize=4)
def _load_split(dataset: str, held_out: int, seed: int, root: str) -> ImageSplit:
    rng = np.random.default_rng(seed)
    if dataset == "mnist-full":
        train_images, train_labels = load_images(dataset, "train")
        pool_images, pool_labels = load_images(dataset, "test")
        chosen = rng.permutation(len(pool_images))[:held_out]
        return ImageSplit(dataset, train_images, train_labels, pool_images[chosen],
                          pool_labels[chosen])
    images, labels = load_images(dataset)
    if held_out > len(images) - 2:
        raise ValueError(f"held_out must leave at least 2 training images of the {len(images)} "
                         f"in {dataset}, got {held_out}")
    order = rng.permutation(len(images))
    test, train = order[:held_out], np.sort(order[held_out:])
    return ImageSplit(dataset, images[train], labels[train], images[test], labels[test])


# IDX type code -> numpy dtype (big-endian where it matters)
IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IDX_CODES = {dtype.newbyteorder("=") if dtype.itemsize > 1 else dtype: code
             for code, dtype in IDX_TYPES.items()}

MNIST_SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# md5 of the canonical gzipped files (the values torchvision and others check against)
MNIST_FILES = {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
               "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
               "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
               "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in IDX file ``path`` (``.gz`` read transparently), native byte order.

    Raises ValueError naming the file when the header or the length is not valid IDX.
    """
    path = Path(path)
    with _open(path) as stream:
        payload = stream.read()
    if len(payload) < 4:
        raise ValueError(f"{path}: not an IDX file (only {len(payload)} bytes)")
    zero, code, n_dims = payload[:2], payload[2], payload[3]
    if zero != b"\x00\x00" or code not in IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (magic bytes {payload[:4].hex()}; expected "
                         f"0000 + type code in {sorted(hex(c) for c in IDX_TYPES)} + dims)")
    if n_dims < 1:
        raise ValueError(f"{path}: IDX header declares {n_dims} dimensions; need >= 1")
    header = 4 + 4 * n_dims
    if len(payload) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{n_dims}I", payload[4:header])
    dtype = IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(payload) - header != expected:
        raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes of data), "
                         f"file holds {len(payload) - header}")
    array = np.frombuffer(payload, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` to ``path`` as IDX (gzipped when the name ends in ``.gz``), atomically.

    Supported dtypes: uint8, int8, int16, int32, float32, float64.
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype
    if native not in IDX_CODES:
        raise ValueError(f"dtype {array.dtype} cannot be stored as IDX; allowed: uint8, int8, "
                         f"int16, int32, float32, float64")
    if array.ndim < 1 or array.ndim > 255:
        raise ValueError(f"array must have 1..255 dimensions, got {array.ndim}")
    code = IDX_CODES[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    atomic_write_bytes(path, payload)
    return path


def mnist_folder(root: str | os.PathLike | None = None) -> Path:
    """``<data root>/mnist`` (``root`` overrides the data root)."""
    return Path(root) / "mnist" if root is not None else data_root() / "mnist"


def _how_to_get(folder: Path) -> str:
    return (f"Put the four MNIST IDX files in {folder} (gzipped or not), point "
            f"COLLAPSE_DATA_DIR at a folder holding mnist/, or, on a machine with a network, "
            f"call collapse.vae.data.download_mnist() once.")


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    if folder.resolve() == data_root() / "mnist":   # the data root's MNIST is fetched when
        fetch("mnist", how_to_get=_how_to_get(folder))   # missing (with a network)
        return folder / f"{stem}.gz"
    raise DataError(f"MNIST file {stem} (or {stem}.gz) is missing from {folder}. "
                    f"{_how_to_get(folder)}")


def load_mnist(split: str = "train", root: str | os.PathLike | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` ('train' or 'test'): images (N, H, W) uint8 and labels (N,) uint8.

    When the folder holds a ``SHA256SUMS`` file (written by :func:`download_mnist`), each file
    it lists is checked against it (:func:`collapse.core.data.verified_file`); a mismatch
    raises :class:`DataError`.
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"unknown MNIST split {split!r}; allowed: {', '.join(MNIST_SPLITS)}")
    folder = mnist_folder(root)
    paths = [_find(folder, stem) for stem in MNIST_SPLITS[split]]
    listed = read_checksums(folder) if (folder / "SHA256SUMS").is_file() else {}
    for path in paths:
        if path.name in listed:
            verified_file(folder, path.name, _how_to_get(folder))
        else:
            note_data_file(path)  # the runner's cache covers unlisted files too
    images, labels = (read_idx(path) for path in paths)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{paths[0]}: expected uint8 images of shape (N, H, W), got "
                        f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{paths[1]}: expected {len(images)} labels, got shape {labels.shape}")
    return images, labels


def load_mnist_10k(root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST digits of ``<data root>/mnist-10k``: images (10000, 28, 28) uint8 and
    labels (10000,) uint8, each file checked against the folder's ``SHA256SUMS`` (a missing or
    corrupt file raises :class:`DataError` saying how to provide it)."""
    folder = (Path(root) if root is not None else data_root()) / MNIST_10K
    how = (f"Put {' and '.join(MNIST_10K_FILES)} with their SHA256SUMS in {folder}, or point "
           f"COLLAPSE_DATA_DIR at a folder holding {MNIST_10K}/ (on this project's machines: "
           f"../shared/data); with a network, `collapse fetch {MNIST_10K}`.")
    images, labels = (read_idx(verified_file(folder, name, how)) for name in MNIST_10K_FILES)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{folder / MNIST_10K_FILES[0]}: expected uint8 images of shape "
                        f"(N, H, W), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{folder / MNIST_10K_FILES[1]}: expected {len(images)} labels, got "
                        f"shape {labels.shape}")
    return images, labels


def download_mnist(root: str | os.PathLike | None = None) -> Path:
    """Download the four gzipped MNIST files into ``<data root>/mnist`` (or ``<root>/mnist``),
    checked against their pinned sizes and sha256, with a ``SHA256SUMS`` beside them:
    :func:`collapse.core.data.fetch` of the dataset "mnist" (which the data root's files get
    on first use anyway). Needs a network. Returns the folder."""
    return fetch("mnist", root=Path(root) if root is not None else None)
