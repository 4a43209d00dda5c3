"""Independent jobs on a few CPU cores: one process per core, one thread each.

At the family's sizes a second intra-op thread buys little (a training step of ``f64x3`` runs
about 1.2x faster on two threads than on one) and costs a lot when anything else wants the
core: on this project's 2-core machines a two-thread decode step ran 8-10x *slower* while
another process was busy (docs/benchmarks.md). Independent work (training or sampling
different family members) therefore runs in worker processes with one torch thread each,
longest job first, so both cores do arithmetic instead of waiting on each other.

Every job runs with exactly one thread whatever the number of workers, so a job gives the same
result in a pool of one or of many (results cached by config hash do not depend on the
worker count, only on the machine, as before). ``TTC_WORKERS`` sets the number of workers
(default: the CPU count); ``TTC_WORKERS=1`` runs the jobs one after the other in this process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tqdm.auto import tqdm

from ttc.config import ConfigError

ENV_VAR = "TTC_WORKERS"

#: the progress-bar row of this process: 0 in the main process, 1.. in a worker
_bar_row = 0

#: the worker processes, kept between calls of :func:`run_jobs` (``(workers, pool)``): a
#: fresh worker spends about 6 s of CPU importing torch and transformers, and a cold book
#: calls ``run_jobs`` a dozen times
_pool: tuple[int, Any] | None = None


def worker_count(jobs: int) -> int:
    """Workers for ``jobs`` independent jobs: ``$TTC_WORKERS`` or the CPU count, at most
    ``jobs``, at least 1."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if raw:
        try:
            wanted = int(raw)
        except ValueError:
            raise ConfigError(f"{ENV_VAR} must be a positive integer, got {raw!r}") from None
        if wanted < 1:
            raise ConfigError(f"{ENV_VAR} must be a positive integer, got {raw!r}")
    else:
        wanted = os.cpu_count() or 1
    return max(1, min(wanted, jobs))


def bar_row() -> int:
    """The terminal row a progress bar of this process should use (``tqdm(position=...)``),
    so that the bars of several workers do not overwrite each other."""
    return _bar_row


#: glibc's ``mallopt`` parameters (malloc.h) and the values :func:`tune_allocator` sets
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts on 64-bit machines
TRIM_THRESHOLD = 2**30


def tune_allocator() -> bool:
    """Keep freed memory in this process instead of handing it back to the kernel; True
    when set (glibc only; elsewhere nothing happens).

    A training step or a sampling step allocates and frees the same tensors of a few
    megabytes every time. glibc returns such blocks to the kernel (``munmap``, or trimming
    the heap's top), so the next step's tensors start on fresh pages, which fault and are
    zeroed on first touch: 2,000-4,000 page faults and about 10 ms of system time per
    ``f128x4`` training step. With the heap kept (mmap threshold 32 MB, trim threshold 1
    GB) that falls to a few hundred faults, and the step's wall time by 5-10% (noisy;
    docs/benchmarks.md, "Speed, tenth round"). The arithmetic is untouched, so results are
    bit-identical; the price is that a process keeps the peak of its heap until it exits.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def _start_worker(rows) -> None:
    """Pool initialiser: one torch thread, the allocator kept (:func:`tune_allocator`), a
    free progress-bar row, and a watch on the parent, so that a worker never outlives a
    killed build."""
    global _bar_row
    import threading

    import torch

    torch.set_num_threads(1)
    tune_allocator()
    with rows.get_lock():
        rows.value += 1
        _bar_row = rows.value
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    """Exit this process as soon as its parent is gone (it is then re-parented)."""
    import time

    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def _one_thread(fn: Callable[[Any], Any], item: Any) -> Any:
    """Run ``fn(item)`` with one torch thread in this process, restoring the count after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(item)
    finally:
        torch.set_num_threads(before)


def _worker_pool(workers: int):
    """The pool of ``workers`` worker processes, started on first use and kept (a pool of
    another size is shut down first)."""
    global _pool
    if _pool is not None and _pool[0] != workers:
        shutdown_workers()
    if _pool is None:
        context = mp.get_context("spawn")  # forking a process that has torch threads is unsafe
        rows = context.Value("i", _bar_row)
        _pool = (workers, ProcessPoolExecutor(workers, mp_context=context,
                                              initializer=_start_worker, initargs=(rows,)))
    return _pool[1]


def shutdown_workers(cancel: bool = False) -> None:
    """Stop the kept worker processes (they also stop when this process exits). A worker
    imports the package once: after editing it, call this (or restart the kernel) so that
    the next jobs run the new code."""
    global _pool
    if _pool is not None:
        _pool[1].shutdown(wait=not cancel, cancel_futures=cancel)
        _pool = None


def run_jobs(fn: Callable[[Any], Any], items: Sequence[Any], desc: str = "jobs",
             progress: bool = True, labels: Sequence[str] | None = None,
             parallel: bool = True, costs: Sequence[float] | None = None) -> list[Any]:
    """``[fn(item) for item in items]``, computed by worker processes; results in item order.

    ``fn`` must be a module-level function (the workers import it) and ``items`` picklable.
    Jobs start in the order given, or by descending ``costs`` (an estimate of each job's
    time) when given: starting the longest first balances the cores. Every job runs with one
    torch thread. A job's exception is raised here, after the jobs already running have
    finished. The worker processes stay for the next call (:func:`shutdown_workers`), so a
    job must not depend on what an earlier job left in its process. ``labels`` name the
    jobs in the progress bar. ``parallel=False`` runs them here, one after the other (for a
    GPU, which the jobs share).
    """
    items = list(items)
    tune_allocator()  # this process may run jobs too (one worker, or parallel=False)
    workers = worker_count(len(items)) if parallel else 1
    labels = list(labels) if labels is not None else [str(i) for i in range(len(items))]
    bar = tqdm(total=len(items), desc=desc, disable=not progress, position=_bar_row)
    try:
        if workers == 1:
            results = []
            for item, label in zip(items, labels, strict=True):
                bar.set_postfix_str(label)
                results.append(_one_thread(fn, item) if parallel else fn(item))
                bar.update()
            return results
        results: list[Any] = [None] * len(items)
        pool = _worker_pool(workers)
        order = range(len(items)) if costs is None else sorted(
            range(len(items)), key=lambda index: -costs[index])
        pending = {pool.submit(fn, items[index]): index for index in order}
        error: BaseException | None = None
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    if future.cancelled():
                        continue
                    if future.exception() is not None:
                        if error is None:
                            error = future.exception()
                            for other in pending:  # stop what has not started
                                other.cancel()
                        continue
                    results[index] = future.result()
                    bar.set_postfix_str(labels[index])
                    bar.update()
        except BaseException:  # interrupted: the running jobs cannot be stopped cleanly
            shutdown_workers(cancel=True)
            raise
        if isinstance(error, BrokenProcessPool):
            shutdown_workers(cancel=True)  # a worker died: the next call starts fresh ones
        if error is not None:
            raise error
        return results
    finally:
        bar.close()
