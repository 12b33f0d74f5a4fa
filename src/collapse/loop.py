"""The generational loop shared by every chapter (DESIGN.md, "One loop, many models").

Generation 0 is the model fitted to real data; generation n+1 is fitted to data produced by
generation n, chosen by a *data policy*. The loop owns the bookkeeping (generation index,
random stream, data policy, per-generation metrics, checkpoints and resume); a *family* owns
fitting and generating, and a *data type* says how datasets of that family are sized, pooled
and subsampled.

Three representations of "data" are supported through the same interface:

* arrays of samples (GMM, discrete, the naive Gaussian sampler): pooled by concatenation;
* sufficient statistics (the exact Gaussian sampler): pooled exactly, but cannot be subsampled,
  so the policies that draw individual points from a pool raise a clear error for them;
* samplers (the VAE: fresh decoder samples every batch) and prompted generation (the language
  model: `generate` receives a :class:`GenerationContext` holding the real and previous data,
  so it can prompt with either).

A family may carry a leading *seed axis* (many independent chains simulated at once); the loop
does not care, it hands the one ``numpy.random.Generator`` to the family.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np

__all__ = [
    "DataType", "ArrayData", "Family", "GenerationContext", "Policy", "Replace", "Accumulate",
    "AccumulateSubsample", "MixReal", "Growing", "linear_growth", "policy_from_name", "History",
    "Checkpointer", "PickleCheckpointer", "run_generations", "check_sample_size",
    "check_fraction", "POLICY_NAMES",
]


# --------------------------------------------------------------------------- validation
def check_sample_size(value: int, name: str = "sample_size", minimum: int = 2) -> int:
    """Return ``value`` as an int, or raise ValueError naming ``name`` and the allowed values."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_fraction(value: float, name: str = "fraction") -> float:
    """Return ``value`` as a float in [0, 1], or raise ValueError naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= number <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return number


# --------------------------------------------------------------------------- data types
class DataType(Protocol):
    """How one family's datasets are sized, pooled and subsampled."""

    def size(self, data: Any) -> int:
        """Number of points in ``data`` (per seed, for a batched family)."""

    def concat(self, parts: Sequence[Any]) -> Any:
        """One dataset holding every point of ``parts`` (the `accumulate` pool)."""

    def take(self, data: Any, n: int, rng: np.random.Generator) -> Any:
        """``n`` points drawn uniformly without replacement from ``data``."""


class ArrayData:
    """Datasets that are arrays of samples along ``axis`` (0, or 1 after a leading seed axis)."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def size(self, data: np.ndarray) -> int:
        return int(np.shape(data)[self.axis])

    def concat(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate(list(parts), axis=self.axis)

    def take(self, data: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        size = self.size(data)
        if n > size:
            raise ValueError(f"cannot take {n} points from a dataset of {size}")
        if self.axis == 0:
            return data[rng.choice(size, size=n, replace=False)]
        # batched: an independent subsample for every seed
        keys = rng.random((data.shape[0], size))
        index = np.argsort(keys, axis=1)[:, :n]
        index = index.reshape(index.shape + (1,) * (data.ndim - 2))
        return np.take_along_axis(data, index, axis=1)


# --------------------------------------------------------------------------- families
@dataclasses.dataclass(frozen=True)
class GenerationContext:
    """What a family may need besides the model to produce generation n+1's data.

    ``generation`` is the index of the model that generates (the data feeds generation+1),
    ``real`` the original real data, ``previous`` the data the generating model was fitted to.
    Prompted families (the language model) choose their prompts from these.
    """

    generation: int
    real: Any
    previous: Any


class Family(Protocol):
    """A model family: fits a model to data and generates new data from a model."""

    data_type: DataType

    def fit(self, data: Any, rng: np.random.Generator) -> Any:
        """The model fitted to ``data`` (generation n's estimate)."""

    def generate(self, model: Any, n: int, rng: np.random.Generator,
                 context: GenerationContext) -> Any:
        """A dataset of ``n`` points produced by ``model`` (a sampler is a valid dataset)."""


# --------------------------------------------------------------------------- policies
class Policy:
    """What generation n+1 trains on. Subclasses implement :meth:`next_data`."""

    name = "policy"
    needs_points = False  # True when the policy draws individual points from a pool

    def __init__(self, sample_size: int | None = None):
        self.sample_size = None if sample_size is None else check_sample_size(sample_size)

    def size_for(self, generation: int, data_type: DataType, real: Any) -> int:
        """M_n: the size of generation ``generation``'s training set (n >= 1)."""
        return self.sample_size if self.sample_size is not None else data_type.size(real)

    def next_data(self, family: Family, model: Any, pool: Any, real: Any, previous: Any,
                  generation: int, rng: np.random.Generator) -> tuple[Any, Any]:
        """(training data of generation ``generation``, the updated pool)."""
        raise NotImplementedError

    def label(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label()!r})"


class Replace(Policy):
    """`replace`: M fresh samples from generation n only (the paper's default)."""

    name = "replace"

    def next_data(self, family, model, pool, real, previous, generation, rng):
        size = self.size_for(generation, family.data_type, real)
        context = GenerationContext(generation - 1, real, previous)
        return family.generate(model, size, rng, context), pool


class Accumulate(Policy):
    """`accumulate`: everything so far, real data included; the pool grows by M each generation."""

    name = "accumulate"

    def next_data(self, family, model, pool, real, previous, generation, rng):
        size = self.size_for(generation, family.data_type, real)
        context = GenerationContext(generation - 1, real, previous)
        pool = family.data_type.concat([pool, family.generate(model, size, rng, context)])
        return pool, pool


class AccumulateSubsample(Policy):
    """`accumulate_subsample`: M points drawn without replacement from the growing pool."""

    name = "accumulate_subsample"
    needs_points = True

    def next_data(self, family, model, pool, real, previous, generation, rng):
        size = self.size_for(generation, family.data_type, real)
        context = GenerationContext(generation - 1, real, previous)
        pool = family.data_type.concat([pool, family.generate(model, size, rng, context)])
        return family.data_type.take(pool, size, rng), pool


class MixReal(Policy):
    """`mix_real(f)`: M points, round(f·M) drawn afresh each generation from the original real
    data and the rest generated by generation n. ``mix_real(0)`` is `replace`."""

    name = "mix_real"
    needs_points = True

    def __init__(self, fraction: float, sample_size: int | None = None):
        super().__init__(sample_size)
        self.fraction = check_fraction(fraction, "fraction")

    def label(self) -> str:
        return f"mix_real({self.fraction:g})"

    def next_data(self, family, model, pool, real, previous, generation, rng):
        size = self.size_for(generation, family.data_type, real)
        n_real = int(round(self.fraction * size))
        context = GenerationContext(generation - 1, real, previous)
        parts = []
        if n_real:
            parts.append(family.data_type.take(real, n_real, rng))
        if size - n_real:
            parts.append(family.generate(model, size - n_real, rng, context))
        return family.data_type.concat(parts), pool


class Growing(Policy):
    """`growing(schedule)`: replace, with M_n = schedule(n) samples at generation n."""

    name = "growing"

    def __init__(self, schedule: Callable[[int], int], description: str = "schedule"):
        super().__init__(None)
        if not callable(schedule):
            raise ValueError(f"schedule must be a callable generation -> sample size, "
                             f"got {schedule!r}")
        self.schedule = schedule
        self.description = description

    def label(self) -> str:
        return f"growing({self.description})"

    def size_for(self, generation, data_type, real):
        return check_sample_size(self.schedule(generation), f"schedule({generation})")

    def next_data(self, family, model, pool, real, previous, generation, rng):
        size = self.size_for(generation, family.data_type, real)
        context = GenerationContext(generation - 1, real, previous)
        return family.generate(model, size, rng, context), pool


class _LinearSchedule:
    """M_n = base · (n + 1) (a class rather than a lambda, so a policy using it pickles)."""

    def __init__(self, base: int):
        self.base = check_sample_size(base, "sample_size (M₀ of the growing schedule)")

    def __call__(self, generation: int) -> int:
        return self.base * (generation + 1)


def linear_growth(base: int) -> Growing:
    """`growing` with M_n = M_0 (n + 1), M_0 = ``base``: as many samples at generation n as
    `accumulate`'s pool holds, all from the latest model."""
    return Growing(_LinearSchedule(base), "M₀(n+1)")


POLICY_NAMES = ("replace", "accumulate", "accumulate_subsample", "mix_real", "growing")


def policy_from_name(name: str, *, fraction: float | None = None,
                     schedule: Callable[[int], int] | None = None,
                     sample_size: int | None = None) -> Policy:
    """The policy called ``name`` (one of :data:`POLICY_NAMES`), e.g. from a profile value.

    ``"mix_real(0.1)"`` is accepted as shorthand for ``name="mix_real", fraction=0.1``;
    ``"growing"`` without a schedule grows linearly from ``sample_size`` (:func:`linear_growth`).
    """
    if isinstance(name, str) and name.startswith("mix_real(") and name.endswith(")"):
        name, fraction = "mix_real", name[len("mix_real("):-1]
    if name == "replace":
        return Replace(sample_size)
    if name == "accumulate":
        return Accumulate(sample_size)
    if name == "accumulate_subsample":
        return AccumulateSubsample(sample_size)
    if name == "mix_real":
        if fraction is None:
            raise ValueError("policy 'mix_real' needs a fraction in [0, 1]")
        return MixReal(fraction, sample_size)
    if name == "growing":
        if schedule is not None:
            return Growing(schedule)
        if sample_size is not None:
            return linear_growth(sample_size)
        raise ValueError("policy 'growing' needs a schedule (generation -> sample size) or a "
                         "sample_size M₀ for M_n = M₀ (n + 1)")
    raise ValueError(f"unknown policy {name!r}; allowed: {', '.join(POLICY_NAMES)}")


# --------------------------------------------------------------------------- history
@dataclasses.dataclass
class History:
    """Per-generation metrics of one run of the loop.

    ``metrics[name]`` has shape (n_generations + 1, ...): row n is the metric of generation n's
    model (row 0: the model fitted to real data). ``sizes[n]`` is M_n, the size of the data
    generation n was fitted to.
    """

    policy: str
    metrics: dict[str, np.ndarray]
    sizes: np.ndarray
    final_model: Any = None
    resumed_from: int | None = None

    @property
    def generations(self) -> np.ndarray:
        return np.arange(len(self.sizes))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.metrics[name]


# --------------------------------------------------------------------------- checkpoints
class Checkpointer(Protocol):
    """Saves each finished generation and finds the last complete one to resume from."""

    def save(self, generation: int, state: dict) -> None:
        """Persist ``state`` (model, data, pool, metrics so far, rng state) of a generation."""

    def latest(self) -> tuple[int, dict] | None:
        """(generation, state) of the last complete, uncorrupted checkpoint, or None."""


class PickleCheckpointer:
    """One pickle per generation in ``directory``, written atomically, with a sha256 sidecar.

    A checkpoint whose bytes do not match its recorded hash (a torn or corrupted write) is not
    trusted: :meth:`latest` skips it and resumes from the one before.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def _path(self, generation: int) -> Path:
        return self.directory / f"generation-{generation:06d}.pkl"

    def save(self, generation: int, state: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256(payload).hexdigest()
        atomic_write_bytes(self._path(generation), payload)
        atomic_write_bytes(self._path(generation).with_suffix(".sha256"), digest.encode())

    def latest(self) -> tuple[int, dict] | None:
        if not self.directory.is_dir():
            return None
        for path in sorted(self.directory.glob("generation-*.pkl"), reverse=True):
            sidecar = path.with_suffix(".sha256")
            try:
                payload = path.read_bytes()
                expected = sidecar.read_text().strip()
            except OSError:
                continue
            if hashlib.sha256(payload).hexdigest() != expected:
                continue
            try:
                return int(path.stem.split("-")[1]), pickle.loads(payload)
            except Exception:  # unreadable despite matching hash: recompute, do not trust
                continue
        return None


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- the loop
Metric = Callable[[Any, Any, int], Any]


def run_generations(family: Family, real: Any, policy: Policy, n_generations: int,
                    rng: np.random.Generator, metrics: Mapping[str, Metric],
                    checkpointer: Checkpointer | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    keep_final_model: bool = False) -> History:
    """Run generations 0..n_generations of the loop and record ``metrics`` for each.

    ``real``: the real data generation 0 is fitted to. ``metrics``: name -> f(model, data,
    generation) computed on every generation's model and training data. ``checkpointer``:
    when given, each finished generation is saved and a rerun resumes after the last complete
    one (metrics, pool and random state included, so a resumed run equals an uninterrupted one).
    ``progress(generation, n_generations)`` is called after each generation.
    """
    if isinstance(n_generations, bool) or not isinstance(n_generations, (int, np.integer)) \
            or n_generations < 0:
        raise ValueError(f"n_generations must be an integer >= 0, got {n_generations!r}")
    if not metrics:
        raise ValueError("metrics must name at least one metric to record")

    start, records, sizes = 0, {name: [] for name in metrics}, []
    state = checkpointer.latest() if checkpointer is not None else None
    resumed_from = None
    if state is not None and state[0] <= n_generations:
        resumed_from, saved = state
        model, data, pool = saved["model"], saved["data"], saved["pool"]
        records = {name: list(saved["records"][name]) for name in metrics}
        sizes = list(saved["sizes"])
        rng.bit_generator.state = saved["rng_state"]
        start = resumed_from + 1
    else:
        model = family.fit(real, rng)
        data, pool = real, real
        for name, metric in metrics.items():
            records[name].append(np.asarray(metric(model, data, 0)))
        sizes.append(family.data_type.size(real))
        _save(checkpointer, 0, model, data, pool, records, sizes, rng)
        if progress:
            progress(0, n_generations)
        start = 1

    for generation in range(start, n_generations + 1):
        data, pool = policy.next_data(family, model, pool, real, data, generation, rng)
        model = family.fit(data, rng)
        for name, metric in metrics.items():
            records[name].append(np.asarray(metric(model, data, generation)))
        sizes.append(family.data_type.size(data))
        _save(checkpointer, generation, model, data, pool, records, sizes, rng)
        if progress:
            progress(generation, n_generations)

    return History(policy=policy.label(),
                   metrics={name: np.stack(values) for name, values in records.items()},
                   sizes=np.asarray(sizes), final_model=model if keep_final_model else None,
                   resumed_from=resumed_from)


def _save(checkpointer, generation, model, data, pool, records, sizes, rng) -> None:
    if checkpointer is None:
        return
    checkpointer.save(generation, {"model": model, "data": data, "pool": pool,
                                   "records": records, "sizes": sizes,
                                   "rng_state": rng.bit_generator.state})
