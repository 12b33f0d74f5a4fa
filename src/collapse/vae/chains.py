"""One chain's results (:class:`Chain`: one data policy, one seed) and the summaries over seeds
that the figures, the claims and the results file share."""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

__all__ = ["Chain", "stack_metric", "median_over_seeds", "relative_drop",
           "seconds_per_generation"]


@dataclasses.dataclass
class Chain:
    """One chain of the loop: its label (the policy's, see
    :func:`collapse.vae.experiments.chain_label`), seed index, per-generation metrics
    (name -> (n_generations + 1, ...): :data:`collapse.vae.evaluation.METRIC_NAMES` and
    ``final_loss``, the mean negative ELBO per image in each generation's last epoch), and the
    wall and CPU seconds of its loop (the latter hardly depends on other jobs sharing the
    machine)."""

    label: str
    seed_index: int
    metrics: dict[str, np.ndarray]
    seconds: float
    cpu_seconds: float

    @property
    def n_generations(self) -> int:
        return len(self.metrics["final_loss"]) - 1


def stack_metric(chains: Sequence[Chain], name: str) -> np.ndarray:
    """Metric ``name`` of several seeds stacked with the seed axis LAST:
    (n_generations + 1, ..., n_seeds), ready for :func:`collapse.publish.plotting.band`."""
    return np.moveaxis(np.stack([chain.metrics[name] for chain in chains]), 0, -1)


def median_over_seeds(chains: Sequence[Chain], name: str) -> np.ndarray:
    """Median over seeds of metric ``name`` per generation: (n_generations + 1, ...)."""
    return np.median(stack_metric(chains, name), axis=-1)


def relative_drop(chains: Sequence[Chain], name: str = "latent_spread", start: int = 1,
                  end: int = 5) -> np.ndarray:
    """Per-seed 1 - metric[end] / metric[start] (the paper: spread 0.68 -> 0.43 from the 1st to
    the 5th generation trained on generated data, a drop of 0.37). Shape (n_seeds,)."""
    values = stack_metric(chains, name)
    return 1.0 - values[end] / values[start]


def seconds_per_generation(chains: Mapping[str, Sequence[Chain]], cpu: bool = False
                           ) -> np.ndarray:
    """Wall (or, with ``cpu``, CPU) seconds per generation of every chain (training and
    metrics of one VAE, one process with one thread)."""
    return np.array([(chain.cpu_seconds if cpu else chain.seconds) / (chain.n_generations + 1)
                     for runs in chains.values() for chain in runs])
