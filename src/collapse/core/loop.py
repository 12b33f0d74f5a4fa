"""The generational loop shared by every chapter (DESIGN.md, "One loop, many models").

Generation 0 is the model fitted to real data; generation n+1 is fitted to data produced by
generation n, chosen by a data policy (:mod:`collapse.core.policies`). The loop owns the
bookkeeping: generation index, random stream, data policy, per-generation metrics, quantities
carried across generations (:class:`Fold`), checkpoints and resume. A family
(:mod:`collapse.core.family`) owns fitting and generating.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .checkpoints import Checkpointer
from .family import Family
from .policies import Policy
from .progress import start_chain

__all__ = ["History", "Fold", "KeepAt", "FirstGeneration", "run_generations", "Metric"]

Metric = Callable[[Any, Any, int], Any]
"""f(model, data, generation) -> value: computed on every generation; must keep no state."""


# --------------------------------------------------------------------------- folds
class Fold:
    """A quantity the loop carries from generation to generation and saves in its checkpoints
    (so a resumed run equals an uninterrupted one): value₀ = start(model₀, data₀), valueₙ =
    step(valueₙ₋₁, modelₙ, dataₙ, n). Use it instead of a metric that keeps state."""

    def start(self, model: Any, data: Any) -> Any:
        raise NotImplementedError

    def step(self, value: Any, model: Any, data: Any, generation: int) -> Any:
        raise NotImplementedError


class KeepAt(Fold):
    """{generation: take(model, data)} for the chosen ``generations`` (snapshots of models or
    training data). ``take`` defaults to the model itself."""

    def __init__(self, generations: Iterable[int],
                 take: Callable[[Any, Any], Any] | None = None):
        self.generations = frozenset(int(g) for g in generations)
        self.take = take

    def _kept(self, kept: dict, model, data, generation: int) -> dict:
        if generation in self.generations:
            kept = {**kept, generation: model if self.take is None else self.take(model, data)}
        return kept

    def start(self, model, data):
        return self._kept({}, model, data, 0)

    def step(self, value, model, data, generation):
        return self._kept(value, model, data, generation)


class FirstGeneration(Fold):
    """Elementwise, the first generation at which ``condition(model, data)`` (a bool array) held;
    -1 where it never did. E.g. the generation at which each state was first lost."""

    def __init__(self, condition: Callable[[Any, Any], np.ndarray]):
        self.condition = condition

    def start(self, model, data):
        return np.where(self.condition(model, data), 0, -1).astype(np.int32)

    def step(self, value, model, data, generation):
        first = ~np.asarray(self.condition(model, data)) | (value >= 0)
        return np.where(first, value, generation).astype(np.int32)


# --------------------------------------------------------------------------- history
@dataclasses.dataclass
class History:
    """Per-generation metrics of one run of the loop.

    ``metrics[name]`` has shape (n_generations + 1, ...): row n is the metric of generation n's
    model (row 0: the model fitted to real data). ``sizes[n]`` is M_n, the size of the data
    generation n was fitted to. ``folds[name]`` is each :class:`Fold`'s value after the last
    generation. ``seconds``: wall time of this call (resumed generations excluded).
    """

    policy: str
    metrics: dict[str, np.ndarray]
    sizes: np.ndarray
    final_model: Any = None
    resumed_from: int | None = None
    folds: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def generations(self) -> np.ndarray:
        return np.arange(len(self.sizes))

    @property
    def n_generations(self) -> int:
        return len(self.sizes) - 1

    def __getitem__(self, name: str) -> np.ndarray:
        return self.metrics[name]


# --------------------------------------------------------------------------- the loop
def run_generations(family: Family, real: Any, policy: Policy, n_generations: int,
                    rng: np.random.Generator, metrics: Mapping[str, Metric],
                    checkpointer: Checkpointer | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    keep_final_model: bool = False,
                    folds: Mapping[str, Fold] | None = None) -> History:
    """Run generations 0..n_generations of the loop and record ``metrics`` for each.

    ``real``: the real data generation 0 is fitted to. ``metrics``: name -> f(model, data,
    generation) computed on every generation's model and training data. ``folds``: name ->
    :class:`Fold`, quantities carried across generations. ``checkpointer``: when given, each
    finished generation is saved and a rerun resumes after the last complete one (metrics,
    folds, pool and random state included, so a resumed run equals an uninterrupted one).
    ``progress(generation, n_generations)`` is called after each generation. Every chain also
    reports its generations to the runner's terminal (:mod:`collapse.core.progress`).
    """
    if isinstance(n_generations, bool) or not isinstance(n_generations, (int, np.integer)) \
            or n_generations < 0:
        raise ValueError(f"n_generations must be an integer >= 0, got {n_generations!r}")
    if not isinstance(policy, Policy):
        raise ValueError(f"policy must be a collapse.core.policies.Policy (e.g. "
                         f"policy_from_name('replace')), got {policy!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not metrics:
        raise ValueError("metrics must name at least one metric to record")
    folds = dict(folds or {})
    started = time.perf_counter()
    live = start_chain(n_generations)

    records, sizes = {name: [] for name in metrics}, []
    state = checkpointer.latest() if checkpointer is not None else None
    resumed_from = None
    if state is not None and state[0] <= n_generations \
            and set(folds) <= set(state[1].get("folds", {})):
        resumed_from, saved = state
        model, data, pool = saved["model"], saved["data"], saved["pool"]
        records = {name: list(saved["records"][name]) for name in metrics}
        carried = {name: saved["folds"][name] for name in folds}
        sizes = list(saved["sizes"])
        rng.bit_generator.state = saved["rng_state"]
        start = resumed_from + 1
    else:
        model = family.fit(real, rng)
        data, pool = real, real
        for name, metric in metrics.items():
            records[name].append(np.asarray(metric(model, data, 0)))
        carried = {name: fold.start(model, data) for name, fold in folds.items()}
        sizes.append(family.data_type.size(real))
        _save(checkpointer, 0, model, data, pool, records, carried, sizes, rng)
        live.finished(0)
        if progress:
            progress(0, n_generations)
        start = 1

    for generation in range(start, n_generations + 1):
        data, pool = policy.next_data(family, model, pool, real, data, generation, rng)
        model = family.fit(data, rng)
        for name, metric in metrics.items():
            records[name].append(np.asarray(metric(model, data, generation)))
        carried = {name: fold.step(carried[name], model, data, generation)
                   for name, fold in folds.items()}
        sizes.append(family.data_type.size(data))
        _save(checkpointer, generation, model, data, pool, records, carried, sizes, rng)
        live.finished(generation)
        if progress:
            progress(generation, n_generations)

    return History(policy=policy.label(),
                   metrics={name: np.stack(values) for name, values in records.items()},
                   sizes=np.asarray(sizes), final_model=model if keep_final_model else None,
                   resumed_from=resumed_from, folds=carried,
                   seconds=time.perf_counter() - started)


def _save(checkpointer, generation, model, data, pool, records, carried, sizes, rng) -> None:
    if checkpointer is None:
        return
    checkpointer.save(generation, {"model": model, "data": data, "pool": pool,
                                   "records": records, "folds": carried, "sizes": sizes,
                                   "rng_state": rng.bit_generator.state})
