"""Sharded sampling: any worker computes its shards, the last one to finish merges, and the
merged table equals an unsharded run's exactly; a Ray fan-out of the same workers."""

from __future__ import annotations

import os
import threading
import time

import pandas as pd
import pytest

from tests.test_sampling import tiny_llama
from tests.toys import WORD_PROBLEMS, tiny_hub_model
from ttc import cli, sampling
from ttc.config import ConfigError
from ttc.sampling import SampleSpec, Shard, draw_samples
from ttc.tasks import TaskConfig, generate_problems
from ttc.tokenizer import build_tokenizer

SPEC = SampleSpec(n_samples=3, max_new_tokens=10, problems_per_shard=1)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models decode fastest on one thread on a busy machine (tests/conftest.py)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def policy():
    problems = generate_problems(TaskConfig(min_ops=1, max_ops=2), "test", 3, seed=0)
    return tiny_llama(), build_tokenizer(), problems  # 6 problems: 6 shards


def _draw(policy, cache, monkeypatch, shard=None):
    monkeypatch.setenv("TTC_CACHE", str(cache))
    model, tokenizer, problems = policy
    return draw_samples(model, tokenizer, "tiny", problems, SPEC, progress=False, shard=shard)


def _shard_dir(cache):
    (folder,) = (cache / "samples").glob("tiny-*.shards")
    return folder


def test_shard_parsing():
    assert Shard.parse("1/4") == Shard(1, 4) and Shard(1, 4).owns(5) and not Shard(1, 4).owns(4)
    for bad in ["4/4", "-1/2", "1", "a/b", "1/0"]:
        with pytest.raises(ConfigError, match="--shard expects i/N"):
            Shard.parse(bad)


def test_sharded_result_equals_unsharded(policy, tmp_path, monkeypatch):
    reference = _draw(policy, tmp_path / "whole", monkeypatch)
    cache = tmp_path / "sharded"
    assert _draw(policy, cache, monkeypatch, Shard(0, 3)) is None  # others' shards missing
    assert sorted(p.name for p in _shard_dir(cache).iterdir()) == ["shard-00000",
                                                                    "shard-00003"]
    # a worker still writing a shard (a fresh temporary folder) and one killed long ago
    writing = _shard_dir(cache) / ".shard-00004.abc.tmp"
    killed = _shard_dir(cache) / ".shard-00001.def.tmp"
    writing.mkdir()
    killed.mkdir()
    old = time.time() - 2 * sampling.STALE_SECONDS
    os.utime(killed, (old, old))
    assert _draw(policy, cache, monkeypatch, Shard(2, 3)) is None
    merged = _draw(policy, cache, monkeypatch, Shard(1, 3))  # the last worker merges
    pd.testing.assert_frame_equal(merged, reference)
    # the finished shards and the stale folder went; the live writer's folder stays
    assert [p.name for p in _shard_dir(cache).iterdir()] == [writing.name]
    writing.rmdir()
    # a late duplicate of worker 0 finds the merged table and computes nothing
    monkeypatch.setattr(sampling, "generate", None)
    pd.testing.assert_frame_equal(_draw(policy, cache, monkeypatch, Shard(0, 3)), reference)
    assert not list((cache / "samples").glob("*.shards"))


def test_concurrent_workers_merge_once_and_agree(policy, tmp_path, monkeypatch):
    reference = _draw(policy, tmp_path / "whole", monkeypatch)
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "threads"))
    model, tokenizer, problems = policy
    results: dict[int, pd.DataFrame | None] = {}

    def worker(index: int) -> None:
        results[index] = draw_samples(model, tokenizer, "tiny", problems, SPEC,
                                      progress=False, shard=Shard(index, 3))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = [table for table in results.values() if table is not None]
    assert merged, "the worker that wrote the last shard merges"
    for table in merged:
        pd.testing.assert_frame_equal(table, reference)
    pd.testing.assert_frame_equal(draw_samples(model, tokenizer, "tiny", problems, SPEC,
                                               progress=False), reference)


@pytest.fixture(scope="module")
def llm_args(tmp_path_factory):
    folder = tiny_hub_model(tmp_path_factory.mktemp("hub") / "llama", "llama")
    return ["--set", f"model={folder}", "--set", "larger_models=[]",
            "--set", f"data={WORD_PROBLEMS}", "--set", "n_problems_per_ops=2",
            "--set", "n_samples=2", "--set", "hard_n_problems=2", "--set", "hard_n_samples=2",
            "--set", "max_new_tokens=8", "--set", "batch_size=8"]


def _sample_tables(cache) -> dict[str, pd.DataFrame]:
    return {p.parent.name: pd.read_parquet(p)
            for p in sorted((cache / "samples").glob("*/samples.parquet"))}


def test_sample_verb_shards_then_chapter_3_finds_them(llm_args, tmp_path, monkeypatch,
                                                      capsys):
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "whole"))
    assert cli.main(["sample", "--profile", "llm", *llm_args]) == 0
    reference = _sample_tables(tmp_path / "whole")
    assert len(reference) == 3  # main set, hard subset, greedy answers
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "sharded"))
    assert cli.main(["sample", "--profile", "llm", *llm_args, "--shard", "1/2"]) == 0
    assert "waiting for other shards" in capsys.readouterr().out
    assert cli.main(["sample", "--profile", "llm", *llm_args, "--shard", "0/2"]) == 0
    assert "waiting" not in capsys.readouterr().out
    sharded = _sample_tables(tmp_path / "sharded")
    assert sharded.keys() == reference.keys()
    for name, table in reference.items():
        pd.testing.assert_frame_equal(sharded[name], table)
    monkeypatch.setattr(sampling, "generate", None)  # chapter 3 samples nothing more
    assert cli.main(["run", "03_sampling", "--profile", "llm", *llm_args,
                     "--out", str(tmp_path / "out")]) == 0


def test_ray_fan_out_equals_unsharded(llm_args, tmp_path, monkeypatch):
    pytest.importorskip("ray", reason="Ray is not installed (the optional extra 'ray')")
    from ttc.shards import fan_out, sample_profile

    overrides = cli._parse_overrides(llm_args[1::2])
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "whole"))
    sample_profile("llm", overrides)
    reference = _sample_tables(tmp_path / "whole")
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "ray"))
    summary = fan_out("llm", 2, overrides, num_cpus=2)
    assert summary["merged"].all()
    fanned = _sample_tables(tmp_path / "ray")
    assert fanned.keys() == reference.keys()
    for name, table in reference.items():
        pd.testing.assert_frame_equal(fanned[name], table)
    assert not list((tmp_path / "ray" / "samples").glob("*.shards"))


def test_draw_sets_splits_each_set_between_workers_and_agrees(tiny_base, monkeypatch):
    """ttc.policy_samples.draw_sets: with two workers a set of several shards is two jobs
    (worker shards 0/2 and 1/2), a one-shard set one job; the tables equal one process's
    draw_samples with one worker or two."""
    from ttc import parallel
    from ttc.family.train import load_member
    from ttc.policy_samples import draw_sets

    base, cache = tiny_base
    problems = generate_problems(TaskConfig(min_ops=1, max_ops=2), "test", 3, seed=0)
    spec = SampleSpec(n_samples=2, max_new_tokens=8, problems_per_shard=2)
    sets = {"three shards": (problems[:5], spec), "one shard": (problems[4:6], spec)}
    model, tokenizer = load_member(base, device="cpu")
    reference = {name: draw_samples(model, tokenizer, base.name, chunk, spec, progress=False)
                 for name, (chunk, spec) in sets.items()}
    real_run_jobs, jobs = parallel.run_jobs, {}

    def recorded(fn, items, **kwargs):
        jobs[workers] = [(item[2], item[4]) for item in items]
        return real_run_jobs(fn, items, **kwargs)

    monkeypatch.setattr(parallel, "run_jobs", recorded)
    for workers in ("1", "2"):
        monkeypatch.setenv("TTC_WORKERS", workers)
        monkeypatch.setenv("TTC_CACHE", str(cache / f"workers-{workers}"))
        drawn = draw_sets(base, "cpu", sets, progress=False)
        assert drawn.keys() == reference.keys()
        for name, table in reference.items():
            pd.testing.assert_frame_equal(drawn[name], table)
        assert not list((cache / f"workers-{workers}" / "samples").glob("*.shards"))
    assert jobs["1"] == [(problems[:5], None), (problems[4:6], None)]
    assert jobs["2"] == [(problems[:5], Shard(0, 2)), (problems[:5], Shard(1, 2)),
                         (problems[4:6], None)]
    # cached: nothing left to draw
    jobs.clear()
    workers = "2"
    pd.testing.assert_frame_equal(draw_sets(base, "cpu", sets, progress=False)["one shard"],
                                  reference["one shard"])
    assert jobs["2"] == []
