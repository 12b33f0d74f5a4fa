"""The one way chapters run independent jobs (seeds, settings, grid cells) in parallel.

Every job runs with a fixed number of threads (torch and BLAS/OpenMP): on a shared 2-core
machine two oversubscribed jobs ran 40x slower than two pinned ones. Results come back in task
order whatever order the workers finish in, so a chapter's numbers do not depend on ``n_jobs``
or on the engine.

Engines: local processes through joblib (``backend`` "loky", "multiprocessing", "threading",
"sequential"), or a Dask cluster (``dask.distributed``, the optional ``dask`` extra). Jobs go to
Dask when ``$COLLAPSE_DASK_SCHEDULER`` names a scheduler (``tcp://host:8786``; ``collapse build
--scheduler`` sets it for every chapter), or when a chapter asks for ``backend="dask"`` (without
a scheduler address: a local cluster of ``n_jobs`` worker processes, started for the batch).
Each job reports its start and end, and its chains their generations, to the runner's terminal
(:mod:`collapse.core.progress`).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import Any, Callable, Iterator, Mapping, Sequence

from . import progress as live
from .checks import check_sample_size

__all__ = ["run_jobs", "pinned_threads", "BACKENDS", "SCHEDULER", "dask_scheduler",
           "check_scheduler", "dask_client"]

#: the engines ``run_jobs`` takes: joblib's backends and Dask
BACKENDS = ("loky", "multiprocessing", "threading", "sequential", "dask")
#: the environment variable naming the Dask scheduler every batch of jobs goes to
SCHEDULER = "COLLAPSE_DASK_SCHEDULER"
#: environment a Dask worker gets from the client for each job (where data, caches and the
#: runner's logs are; on a cluster these folders must be on a file system the workers share)
SHIPPED_ENVIRONMENT = ("COLLAPSE_DATA_DIR", "COLLAPSE_CACHE_DIR", "COLLAPSE_RESULTS_DIR",
                       "COLLAPSE_DATA_LOG", "COLLAPSE_CHECKPOINT_LOG", "COLLAPSE_OFFLINE",
                       "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME", "TORCH_HOME")
PROGRESS_TOPIC = "collapse-progress"


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


def _run_job(function: Callable, threads: int, args: tuple, kwargs: Mapping, batch: str | None,
             index: int) -> Any:
    """One job: pinned threads, and (when part of a batch) its start and end reported."""
    with pinned_threads(threads):
        if batch is None:
            return function(*args, **kwargs)
        with live.job(batch, index):
            return function(*args, **kwargs)


def dask_scheduler() -> str | None:
    """The Dask scheduler address every batch of jobs goes to (``$COLLAPSE_DASK_SCHEDULER``)."""
    return os.environ.get(SCHEDULER) or None


def run_jobs(function: Callable, tasks: Sequence[tuple], *, n_jobs: int = 1,
             common: Mapping[str, Any] | None = None, threads_per_job: int = 1,
             backend: str = "loky",
             on_result: Callable[[int, Any], None] | None = None) -> list:
    """``[function(*task, **common) for task in tasks]``, in ``n_jobs`` worker processes
    (joblib ``backend``; ``n_jobs=1`` runs in this process) or on a Dask cluster (see the
    module's docstring: then the cluster's workers, not ``n_jobs``, set the parallelism), each
    job pinned to ``threads_per_job`` threads. ``on_result(index, result)`` is called as each
    job finishes (for progress lines); the returned list is in task order.
    """
    n_jobs = check_sample_size(n_jobs, "n_jobs", minimum=1) if n_jobs != -1 else -1
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    tasks, common = [tuple(task) for task in tasks], dict(common or {})
    results: list = [None] * len(tasks)
    nested = live.current_job() is not None   # a batch inside a job reports as that job
    batch = None if nested else live.new_batch(len(tasks), getattr(function, "__name__", "job"))
    scheduler = dask_scheduler()
    if len(tasks) > 1 and not nested and (scheduler or (backend == "dask" and n_jobs != 1)):
        finished = _dask_jobs(function, tasks, common, threads_per_job, batch, scheduler, n_jobs)
    elif n_jobs == 1 or len(tasks) <= 1 or backend == "dask":
        finished = ((index, _run_job(function, threads_per_job, task, common, batch, index))
                    for index, task in enumerate(tasks))
    else:
        from joblib import Parallel, delayed

        def indexed(index, task):
            return index, _run_job(function, threads_per_job, task, common, batch, index)

        finished = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator_unordered")(
            delayed(indexed)(index, task) for index, task in enumerate(tasks))
    for index, result in finished:
        results[index] = result
        if on_result is not None:
            on_result(index, result)
    return results


# ----------------------------------------------------------------------------- Dask
def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError("the Dask engine needs the optional 'dask' extra: make book "
                          "ENGINE=dask installs it (or: .venv/bin/pip install --no-deps -r "
                          "requirements-dask.lock)") from None
    return distributed


def check_scheduler(address: str, timeout: float = 10.0) -> dict[str, int]:
    """Check that a Dask scheduler answers at ``address`` (``tcp://host:port``) and has workers;
    returns their threads (worker address -> threads). ValueError says what is wrong
    (malformed, extra not installed, unreachable, no workers) before any work starts."""
    if not re.fullmatch(r"(tcp|tls|ws|wss|ucx)://[^\s/]+:\d+", str(address)):
        raise ValueError(f"Dask scheduler address {address!r} must look like "
                         f"tcp://host:8786 (schemes: tcp, tls, ws, wss, ucx)")
    try:
        distributed = _import_distributed()
    except ImportError as error:
        raise ValueError(str(error)) from None
    try:
        with distributed.Client(address, timeout=f"{timeout}s", set_as_default=False) as client:
            workers = dict(client.nthreads())
    except (OSError, TimeoutError) as error:
        raise ValueError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    if not workers:
        raise ValueError(f"the Dask scheduler at {address} has no workers: start some, e.g. "
                         f".venv/bin/dask worker {address} --nthreads 1 --nworkers 2")
    return workers


def _relay(event: dict) -> None:
    """Progress sink on a Dask worker: the event goes to the client through the scheduler."""
    from distributed import get_worker
    get_worker().log_event(PROGRESS_TOPIC, event)


def _run_on_worker(function: Callable, threads: int, args: tuple, kwargs: Mapping,
                   batch: str | None, index: int, environment: Mapping[str, str]) -> Any:
    """A job on a Dask worker: the client's environment (data root, caches, logs) set for its
    duration, its progress relayed to the client."""
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    live.set_sink(_relay)
    try:
        return _run_job(function, threads, args, kwargs, batch, index)
    finally:
        live.set_sink(None)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def dask_client(scheduler: str | None, n_workers: int = 1) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``scheduler``, or (None) of a local cluster
    of ``n_workers`` single-threaded worker processes on 127.0.0.1, closed on exit."""
    distributed = _import_distributed()
    import logging
    import tempfile
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="collapse-dask-"))
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=max(n_workers, 1), threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None, local_directory=scratch,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # no fixed HTTP port
                silence_logs=logging.ERROR))
            address = cluster.scheduler_address
        else:
            address = scheduler
        try:
            client = stack.enter_context(distributed.Client(address, timeout="30s",
                                                            set_as_default=False))
        except OSError as error:
            raise OSError(f"cannot reach the Dask scheduler at {address} ({SCHEDULER}): "
                          f"{error}") from None
        yield client


def _dask_jobs(function: Callable, tasks: list[tuple], common: Mapping, threads: int,
               batch: str | None, scheduler: str | None, n_jobs: int) -> Iterator[tuple]:
    """(index, result) of each task as it finishes on the Dask cluster. Interrupted (Ctrl-C)
    or failed, the batch's remaining futures are cancelled."""
    distributed = _import_distributed()
    environment = {name: os.environ[name] for name in SHIPPED_ENVIRONMENT if name in os.environ}
    with dask_client(scheduler, n_jobs if n_jobs > 0 else os.cpu_count() or 1) as client:
        if live.enabled():
            client.subscribe_topic(PROGRESS_TOPIC, lambda event: live.emit_raw(event[1]))
        futures = {client.submit(_run_on_worker, function, threads, task, common, batch, index,
                                 environment, pure=False): index
                   for index, task in enumerate(tasks)}
        try:
            for future in distributed.as_completed(futures, loop=client.loop):
                result = future.result()
                if batch is not None:  # (the worker's own event may come later, relayed)
                    live.emit({"event": "job", "batch": batch, "job": futures[future],
                               "state": "done"})
                yield futures[future], result
        finally:
            client.cancel(list(futures), force=True)
            if live.enabled():
                client.unsubscribe_topic(PROGRESS_TOPIC)
