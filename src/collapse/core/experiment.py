"""The experiment protocol every chapter calls, and the small helpers around it.

A chapter's package (``collapse.<family>``) exposes four functions, re-exported from its
``claims`` and ``experiments`` modules, and a chapter notebook calls them in this order:

    declare_claims(record, settings)      claims: fix every criterion before anything runs
    runs = run(settings, progress)        experiments: all the simulation the chapter shows
    record_metrics(record, runs)          experiments: the headline numbers of the results file
    evaluate_claims(record, runs)         claims: verdicts from the criteria and the runs

``settings`` is the chapter's profile settings (:func:`collapse.publish.profiles.settings`),
``record`` its :class:`collapse.publish.records.ChapterRecord`, ``runs`` whatever object the
family's ``run`` returns (figures take it too). Families that the escaping chapter compares
also implement :class:`PolicyRunner`.
"""
from __future__ import annotations

import contextlib
import time
from types import ModuleType
from typing import Any, Callable, Iterator, Mapping, Protocol

import numpy as np

__all__ = ["PROTOCOL", "Progress", "PolicyRunner", "Timings", "check_protocol"]

PROTOCOL = ("declare_claims", "run", "record_metrics", "evaluate_claims")

Progress = Callable[[str], None]
"""progress(message): one plain-text line about long work (a finished job, a generation)."""


class PolicyRunner(Protocol):
    """A family the cross-family comparison of data policies can run (its ``experiments``
    module implements ``policy_run``).

    ``policy_run(policy, n_seeds, n_generations, rng, *, real_rng, settings)`` runs ``n_seeds``
    chains under the data policy named ``policy`` (a name for
    :func:`collapse.core.policies.policy_from_name`, parsed with the family's own sample size,
    which ``growing`` needs as M₀) and returns the family's drift measure relative to the truth
    or to generation 0, shape (n_generations + 1, n_seeds). ``rng`` drives the loop;
    ``real_rng`` draws generation 0's data (the same for all of a family's runs); ``settings``
    is the family's own settings mapping.
    """

    def policy_run(self, policy: str, n_seeds: int, n_generations: int,
                   rng: np.random.Generator, *, real_rng: np.random.Generator,
                   settings: Mapping[str, Any]) -> np.ndarray: ...


class Timings(dict):
    """Wall seconds per named step: ``with timings("sweep"): ...`` records ``timings["sweep"]``."""

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - started


def check_protocol(package: ModuleType) -> None:
    """Raise TypeError unless ``package`` exposes every function of :data:`PROTOCOL`."""
    missing = [name for name in PROTOCOL if not callable(getattr(package, name, None))]
    if missing:
        raise TypeError(f"{package.__name__} does not implement the experiment protocol: "
                        f"missing {missing}")
