"""Runs of the Gaussian recursion through the shared loop, kept as fitted parameters.

:func:`simulate` runs :func:`collapse.core.loop.run_generations` with the fitted mean and
standard deviation as metrics and returns :class:`Trajectories`: those parameters at a chosen
set of generations (:func:`recorded_generations`: every one early, log-spaced later), with the
quantities derived from them (W2² to the truth, the row of a generation).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..core.loop import run_generations
from ..core.policies import Policy
from . import theory
from .family import PARAMETER_METRICS

__all__ = ["recorded_generations", "Trajectories", "simulate"]


def recorded_generations(n_generations: int, dense_up_to: int = 100,
                         per_decade: int = 100) -> np.ndarray:
    """Generations whose parameters are kept: every one up to ``dense_up_to``, then about
    ``per_decade`` log-spaced ones per decade, always including 1000 and the last."""
    dense = np.arange(min(n_generations, dense_up_to) + 1)
    if n_generations <= dense_up_to:
        return dense
    decades = math.log10(n_generations / dense_up_to)
    spaced = np.geomspace(dense_up_to, n_generations, max(int(per_decade * decades), 2))
    extra = [g for g in (1000, n_generations) if g <= n_generations]
    return np.unique(np.concatenate([dense, np.round(spaced).astype(int), extra]))


@dataclasses.dataclass
class Trajectories:
    """Fitted parameters of S chains at the recorded generations.

    ``mean``, ``std``: shape (len(generations), S); ``sizes``: M_i of every generation
    0 … n_generations (the loop's ``History.sizes``); ``seconds``: wall time of the run.
    """

    label: str
    generations: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    sizes: np.ndarray
    estimator: str
    sampler: str
    seconds: float
    policy: str = "replace"

    @property
    def n_seeds(self) -> int:
        return int(self.mean.shape[1])

    @property
    def n_generations(self) -> int:
        return int(len(self.sizes) - 1)

    def row(self, generation: int) -> int:
        """Index of ``generation`` in :attr:`generations` (which must hold it)."""
        index = int(np.searchsorted(self.generations, generation))
        if index >= len(self.generations) or self.generations[index] != generation:
            raise KeyError(f"generation {generation} was not recorded for {self.label}")
        return index

    def w2_squared(self, mu: float = 0.0, sigma: float = 1.0) -> np.ndarray:
        """W2²(N(μ_n, σ_n²), N(mu, sigma²)), shape (R, S)."""
        return theory.gaussian_w2_squared(self.mean, self.std, mu, sigma)

    def theory_sizes(self) -> np.ndarray:
        """M_0 … M_N for the theory functions."""
        return np.asarray(self.sizes, float)


def simulate(family, real, policy: Policy, n_generations: int, rng: np.random.Generator,
             label: str, keep: np.ndarray | None = None) -> Trajectories:
    """Run the generational loop on ``family`` (:class:`~collapse.gaussian.family.ExactGaussian`
    or :class:`~collapse.gaussian.family.NaiveGaussian`) from ``real`` and keep the parameters
    at ``keep`` (default :func:`recorded_generations`)."""
    history = run_generations(family, real, policy, n_generations, rng, PARAMETER_METRICS)
    keep = recorded_generations(n_generations) if keep is None else np.asarray(keep)
    return Trajectories(label, keep, np.array(history["mean"][keep]),
                        np.array(history["std"][keep]), np.asarray(history.sizes),
                        family.estimator, family.sampler, history.seconds, history.policy)
