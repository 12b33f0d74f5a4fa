"""The one way chapters run independent jobs (seeds, settings, grid cells) in parallel.

Every job runs with a fixed number of threads (torch and BLAS/OpenMP): on a shared 2-core
machine two oversubscribed jobs ran 40x slower than two pinned ones. Results come back in task
order whatever order the workers finish in, so a chapter's numbers do not depend on ``n_jobs``.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Mapping, Sequence

from .checks import check_sample_size

__all__ = ["run_jobs", "pinned_threads"]


class pinned_threads:
    """Context manager: torch (when imported) and BLAS/OpenMP pools limited to ``threads``."""

    def __init__(self, threads: int = 1):
        self.threads = check_sample_size(threads, "threads_per_job", minimum=1)

    def __enter__(self):
        from threadpoolctl import threadpool_limits
        self._limits = threadpool_limits(limits=self.threads)
        torch = sys.modules.get("torch")
        self._torch_threads = torch.get_num_threads() if torch is not None else None
        if torch is not None:
            torch.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc):
        torch = sys.modules.get("torch")
        if torch is not None and self._torch_threads is not None:
            torch.set_num_threads(self._torch_threads)
        self._limits.restore_original_limits()
        return False


def _run_pinned(function: Callable, threads: int, args: tuple, kwargs: Mapping) -> Any:
    with pinned_threads(threads):
        return function(*args, **kwargs)


def run_jobs(function: Callable, tasks: Sequence[tuple], *, n_jobs: int = 1,
             common: Mapping[str, Any] | None = None, threads_per_job: int = 1,
             backend: str = "loky",
             on_result: Callable[[int, Any], None] | None = None) -> list:
    """``[function(*task, **common) for task in tasks]``, in ``n_jobs`` worker processes
    (joblib ``backend``; ``n_jobs=1`` runs in this process), each job pinned to
    ``threads_per_job`` threads. ``on_result(index, result)`` is called as each job finishes
    (for progress lines); the returned list is in task order.
    """
    n_jobs = check_sample_size(n_jobs, "n_jobs", minimum=1) if n_jobs != -1 else -1
    tasks, common = [tuple(task) for task in tasks], dict(common or {})
    results: list = [None] * len(tasks)
    if n_jobs == 1 or len(tasks) <= 1:
        finished = ((index, _run_pinned(function, threads_per_job, task, common))
                    for index, task in enumerate(tasks))
    else:
        from joblib import Parallel, delayed

        def indexed(index, task):
            return index, _run_pinned(function, threads_per_job, task, common)

        finished = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator_unordered")(
            delayed(indexed)(index, task) for index, task in enumerate(tasks))
    for index, result in finished:
        results[index] = result
        if on_result is not None:
            on_result(index, result)
    return results
