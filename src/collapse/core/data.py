"""The data root and the datasets read from it (DESIGN.md, "Data").

One data root, ``$COLLAPSE_DATA_DIR`` (default ``data/`` in the repository),
holds one folder per dataset: ``wikitext-2-raw-v1/`` (``wiki.{train,valid,test}.raw`` and
``SHA256SUMS``) and ``mnist/`` (the four IDX files). Nothing here touches the network: a
missing or corrupt file raises :class:`DataError` saying what is missing and how to provide it.
Every file read through :func:`verified_file` or :func:`note_data_file` is noted (with its
sha256) in the runner's data log, so a chapter's cache entry covers the data it read.

A relative ``$COLLAPSE_DATA_DIR`` means relative to the folder the user ran the command from:
the runner makes it absolute before any kernel starts (kernels run in ``book/``).
"""
from __future__ import annotations

import os
from pathlib import Path

import json

from .io import DATA_LOG, PROJECT_ROOT, note_use, sha256_of

WIKITEXT = "wikitext-2-raw-v1"
WIKITEXT_SPLITS = {"train": "wiki.train.raw", "validation": "wiki.valid.raw",
                   "test": "wiki.test.raw"}


class DataError(RuntimeError):
    """A dataset is missing from the data root or does not match its checksum."""


def data_root() -> Path:
    """``$COLLAPSE_DATA_DIR`` if set, else ``<repository>/data``."""
    configured = os.environ.get("COLLAPSE_DATA_DIR")
    return Path(configured).expanduser().resolve() if configured else PROJECT_ROOT / "data"


def read_checksums(folder: Path) -> dict[str, str]:
    """File name -> expected sha256, from ``folder/SHA256SUMS`` (``sha256sum`` format)."""
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise DataError(f"{sums} is missing: the dataset folder needs its SHA256SUMS file "
                        f"(lines of '<sha256>  <file name>')")
    expected = {}
    for number, line in enumerate(sums.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{sums}, line {number}: expected '<sha256>  <file name>', "
                            f"got {line!r}")
        expected[parts[1].lstrip("*")] = parts[0].lower()
    return expected


def verified_file(folder: Path, name: str, how_to_get: str) -> Path:
    """``folder/name`` after checking it exists and matches ``SHA256SUMS``."""
    path = folder / name
    if not path.is_file():
        raise DataError(f"{path} is missing. {how_to_get}")
    expected = read_checksums(folder).get(name)
    if expected is None:
        raise DataError(f"{folder / 'SHA256SUMS'} has no checksum for {name}; add its sha256 "
                        f"line (sha256sum {name} >> SHA256SUMS) or restore the original file")
    actual = sha256_of(path)
    if actual != expected:
        raise DataError(f"{path} is corrupt or not the expected file: sha256 {actual} does not "
                        f"match {expected} in SHA256SUMS. Replace it with the original. "
                        f"{how_to_get}")
    note_data_file(path, actual)
    return path


def note_data_file(path: str | os.PathLike, sha256: str | None = None) -> None:
    """Note in the runner's data log (``$COLLAPSE_DATA_LOG``) that ``path`` was read, with its
    sha256 (computed when not given). Paths inside the data root are noted relative to it."""
    if not os.environ.get(DATA_LOG):
        return
    path = Path(path).resolve()
    try:
        shown = str(path.relative_to(data_root()))
    except ValueError:
        shown = str(path)
    note_use(DATA_LOG, json.dumps({"path": shown, "sha256": sha256 or sha256_of(path)}))


def wikitext_path(split: str) -> Path:
    """Path of WikiText-2 raw ``split`` ('train', 'validation' or 'test'), sha256-verified."""
    if split not in WIKITEXT_SPLITS:
        raise ValueError(f"unknown WikiText-2 split {split!r}; allowed: "
                         f"{', '.join(WIKITEXT_SPLITS)}")
    folder = data_root() / WIKITEXT
    how = (f"Put the WikiText-2 raw v1 files ({', '.join(WIKITEXT_SPLITS.values())}) and their "
           f"SHA256SUMS in {folder}, or point COLLAPSE_DATA_DIR at a folder holding "
           f"{WIKITEXT}/ (on this project's machines: ../shared/data).")
    return verified_file(folder, WIKITEXT_SPLITS[split], how)


def read_wikitext(split: str) -> str:
    """The raw text of WikiText-2 ``split``, sha256-verified."""
    return wikitext_path(split).read_text(encoding="utf-8")
