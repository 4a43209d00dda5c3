"""ttc.parallel: worker processes for independent jobs, one torch thread each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.toys import (
    parallel_job_fails_on,
    parallel_job_pid,
    parallel_job_square,
    parallel_job_threads,
)
from ttc.config import ConfigError
from ttc.parallel import ENV_VAR, run_jobs, shutdown_workers, worker_count


def test_worker_count_follows_the_environment_and_the_jobs(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "3")
    assert worker_count(10) == 3
    assert worker_count(2) == 2  # never more workers than jobs
    assert worker_count(0) == 1
    monkeypatch.delenv(ENV_VAR)
    assert worker_count(64) >= 1


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5"])
def test_a_bad_worker_count_is_one_line(monkeypatch, raw):
    monkeypatch.setenv(ENV_VAR, raw)
    with pytest.raises(ConfigError, match=ENV_VAR):
        worker_count(4)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_results_come_back_in_item_order_with_one_thread_each(monkeypatch, workers):
    monkeypatch.setenv(ENV_VAR, workers)
    assert run_jobs(parallel_job_square, [5, 1, 4, 2], progress=False) == [25, 1, 16, 4]
    # every job, in a worker or here, runs with exactly one torch thread
    assert run_jobs(parallel_job_threads, [0, 1, 2], progress=False) == [1, 1, 1]


def test_results_do_not_depend_on_the_worker_count(monkeypatch):
    items = [(seed, 96) for seed in range(3)]
    monkeypatch.setenv(ENV_VAR, "1")
    alone = run_jobs(parallel_job_square, items, progress=False)
    monkeypatch.setenv(ENV_VAR, "2")
    assert run_jobs(parallel_job_square, items, progress=False) == alone


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_failing_job_raises_its_own_error(monkeypatch, workers):
    monkeypatch.setenv(ENV_VAR, workers)
    with pytest.raises(ValueError, match="job 2 failed"):
        run_jobs(parallel_job_fails_on, [1, 2, 3], progress=False)


def test_not_parallel_runs_here_with_the_threads_it_has(monkeypatch):
    import torch

    monkeypatch.setenv(ENV_VAR, "2")
    assert run_jobs(parallel_job_threads, [0], progress=False,
                    parallel=False) == [torch.get_num_threads()]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_costs_change_the_start_order_not_the_result_order(monkeypatch, workers):
    monkeypatch.setenv(ENV_VAR, workers)
    assert run_jobs(parallel_job_square, [1, 2, 3, 4], progress=False,
                    costs=[1, 9, 3, 7]) == [1, 4, 9, 16]


def test_workers_exit_when_the_parent_is_killed(tmp_path):
    """A killed build leaves no worker behind, still training."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    pids = tmp_path / "pids"
    script.write_text(
        "import os, sys\n"
        "from ttc.parallel import run_jobs\n"
        "from tests.toys import parallel_job_sleep\n"
        "if __name__ == '__main__':\n"
        f"    run_jobs(parallel_job_sleep, [{str(pids)!r}] * 2, progress=False)\n")
    env = {**os.environ, "TTC_WORKERS": "2",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, str(script)], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and len(_read_pids(pids)) < 2:
        time.sleep(0.2)
    workers = _read_pids(pids)
    assert len(workers) == 2, "the workers did not start"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _read_pids(path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its new parent) counts as gone
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_workers_are_kept_between_calls_and_survive_a_failed_job(monkeypatch):
    """A second call reuses the worker processes (no new imports), also after a job failed;
    another worker count starts new ones; shutdown_workers stops them."""
    monkeypatch.setenv(ENV_VAR, "2")
    shutdown_workers()
    first = set(run_jobs(parallel_job_pid, range(4), progress=False))
    assert len(first) == 2
    with pytest.raises(ValueError, match="job 2 failed"):
        run_jobs(parallel_job_fails_on, range(4), progress=False)
    assert set(run_jobs(parallel_job_pid, range(4), progress=False)) == first
    monkeypatch.setenv(ENV_VAR, "3")
    assert not set(run_jobs(parallel_job_pid, range(6), progress=False)) & first
    shutdown_workers()


def test_tune_allocator_sets_glibc_thresholds_where_there_is_glibc():
    import platform

    from ttc.parallel import tune_allocator

    tuned = tune_allocator()
    assert isinstance(tuned, bool)
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert tuned
