"""Reliability: runs killed with SIGKILL resume to the same result, damaged artifacts are
caught and recomputed, two workers share one cache, the same seed gives the same tables, and
the book builds with no network.

The kill tests run a small child process (a f32x2 member trained for 40 steps of 2 blocks,
then 4 samples of 12 problems, one thread) and kill it at a random point; the seed of that
point is in every assertion message.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from ttc.cache import DamagedArtifact, read_verified_frame, verify_manifest

ROOT = Path(__file__).resolve().parents[1]

# The child: train a member (resume checkpoints every 4 of 40 steps), sample it, save the
# table. argv: seconds of delay per training step, per sample shard, and the output file.
CHILD = textwrap.dedent('''
    import sys, time
    import torch
    torch.set_num_threads(1)
    import ttc.family.train as train
    import ttc.sampling as sampling
    from ttc.family.specs import get_spec
    from ttc.sampling import SampleSpec, draw_samples
    from ttc.tasks import TaskConfig, generate_problems

    slow_train, slow_sample, out = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]

    def slowed(function, seconds):
        def wrapper(*args, **kwargs):
            time.sleep(seconds)
            return function(*args, **kwargs)
        return wrapper

    if slow_train:  # called once per step: leaves time to kill the run mid-way
        train._lr_at = slowed(train._lr_at, slow_train)
    if slow_sample:  # called once per shard
        sampling.generate = slowed(sampling.generate, slow_sample)
    task = TaskConfig(min_ops=1, max_ops=2)
    config = train.TrainConfig(steps=40, batch_size=2, block_size=32, eval_every=10,
                               n_val_blocks=2, task=task)
    path = train.train_member(get_spec("f32x2"), config, progress=False, device="cpu",
                              resume_every=4)
    print("checkpoint", path.name, flush=True)
    model, tokenizer = train.load_member(path, device="cpu")
    problems = generate_problems(task, "test", 6, seed=0)  # 12 problems, one per shard
    spec = SampleSpec(n_samples=4, max_new_tokens=16, problems_per_shard=1)
    table = draw_samples(model, tokenizer, path.name, problems, spec, progress=False)
    table.to_parquet(out)
    print("done", flush=True)
''')


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "TTC_CACHE": str(cache), "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(ROOT / "src")}


def _start(tmp_path: Path, cache: Path, out: Path, slow_train: float = 0.0,
           slow_sample: float = 0.0) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen([sys.executable, str(script), str(slow_train), str(slow_sample),
                             str(out)], env=_env(cache), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(child: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    stdout, stderr = child.communicate(timeout=timeout)
    assert child.returncode == 0, f"child failed ({child.returncode}):\n{stderr[-3000:]}"
    return stdout, stderr


def _kill_when(child: subprocess.Popen, ready, delay: float, what: str) -> None:
    """SIGKILL ``child`` ``delay`` seconds after ``ready()`` first holds."""
    deadline = time.monotonic() + 240
    while not ready():
        if child.poll() is not None:
            pytest.fail(f"the child ended before {what}: {child.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL


def _checkpoints(cache: Path) -> list[Path]:
    return [p for p in (cache / "checkpoints").iterdir() if not p.name.startswith(".")]


def _leftovers(cache: Path) -> list[str]:
    """Temporary folders, resume state and shards left in a cache."""
    return sorted(p.name for kind in ("checkpoints", "samples") if (cache / kind).is_dir()
                  for p in (cache / kind).iterdir()
                  if p.name.startswith(".") or p.name.endswith((".resume", ".shards")))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Two workers started at once on one empty cache. Both must finish with the same
    artifacts; their checkpoint and table are the uninterrupted reference for the kill tests.
    """
    tmp = tmp_path_factory.mktemp("concurrent")
    cache = tmp / "cache"
    children = [_start(tmp, cache, tmp / f"table-{i}.parquet") for i in range(2)]
    outputs = [_finish(child) for child in children]
    names = {line.split()[1] for out, _ in outputs for line in out.splitlines()
             if line.startswith("checkpoint")}
    tables = [pd.read_parquet(tmp / f"table-{i}.parquet") for i in range(2)]
    return {"cache": cache, "names": names, "tables": tables, "stderr": [e for _, e in outputs]}


def test_two_workers_on_one_empty_cache_agree(reference):
    cache = reference["cache"]
    assert len(reference["names"]) == 1, reference["names"]
    pd.testing.assert_frame_equal(*reference["tables"])
    (checkpoint,) = _checkpoints(cache)
    assert checkpoint.name in reference["names"]
    verify_manifest(checkpoint)
    (samples,) = [p for p in (cache / "samples").iterdir() if not p.name.startswith(".")]
    pd.testing.assert_frame_equal(read_verified_frame(samples, "samples.parquet"),
                                  reference["tables"][0])
    assert _leftovers(cache) == [], "\n".join(reference["stderr"])


def test_training_killed_at_a_random_point_resumes_to_the_same_weights(reference, tmp_path):
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    threshold = 4 * rng.randint(1, 6)  # kill after the resume checkpoint of this step ...
    delay = rng.uniform(0.0, 0.05)  # ... and a little later (steps take >= 50 ms here)
    cache = tmp_path / "cache"
    child = _start(tmp_path, cache, tmp_path / "killed.parquet", slow_train=0.05)

    def resume_points() -> list[int]:
        folders = list((cache / "checkpoints").glob("*.resume/step-*"))
        return [int(p.name.split("-")[1]) for p in folders]

    _kill_when(child, lambda: any(s >= threshold for s in resume_points()), delay,
               f"the resume checkpoint of step {threshold}")
    assert not _checkpoints(cache) or all(p.name.endswith(".resume")
                                          for p in _checkpoints(cache)), f"seed {seed}"
    _, stderr = _finish(_start(tmp_path, cache, tmp_path / "rerun.parquet"))
    assert "resuming from step" in stderr, f"seed {seed}: {stderr[-2000:]}"
    step = int(stderr.split("resuming from step")[1].split()[0])
    assert threshold <= step < 40, f"seed {seed}"

    (checkpoint,) = _checkpoints(cache)
    (ref,) = [p for p in _checkpoints(reference["cache"])]
    assert checkpoint.name == ref.name
    mine, theirs = (p / "model.safetensors" for p in (checkpoint, ref))
    assert mine.read_bytes() == theirs.read_bytes(), f"seed {seed}: weights differ"
    info = json.loads((checkpoint / "training.json").read_text())
    assert info["resumed_from_step"] == step
    assert info["curve"] == json.loads((ref / "training.json").read_text())["curve"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "rerun.parquet"),
                                  reference["tables"][0])
    assert _leftovers(cache) == []  # the resume folder went with the final checkpoint


def test_sampling_killed_at_a_random_point_resumes_to_the_same_table(reference, tmp_path):
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    threshold = rng.randint(1, 8)  # of 12 shards
    delay = rng.uniform(0.0, 0.05)  # each shard takes >= 150 ms here
    cache = tmp_path / "cache"
    (ref,) = _checkpoints(reference["cache"])
    shutil.copytree(ref, cache / "checkpoints" / ref.name)  # trained: go straight to sampling
    child = _start(tmp_path, cache, tmp_path / "killed.parquet", slow_sample=0.15)

    def shards() -> int:
        return len(list((cache / "samples").glob("*.shards/shard-*")))

    _kill_when(child, lambda: shards() >= threshold, delay, f"{threshold} shards")
    assert not [p for p in (cache / "samples").iterdir()
                if not p.name.startswith(".") and not p.name.endswith(".shards")], f"seed {seed}"
    _, stderr = _finish(_start(tmp_path, cache, tmp_path / "rerun.parquet"))
    assert "damaged" not in stderr, f"seed {seed}: {stderr}"
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "rerun.parquet"),
                                  reference["tables"][0], obj=f"table (seed {seed})")


# -- damaged artifacts ---------------------------------------------------------------------

def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _unmanifest(folder: Path) -> None:
    (folder / "manifest.json").unlink()


def test_finished_artifacts_from_before_manifests_are_adopted(cache, capsys):
    """A cache written by the code before manifests (complete folders, renamed into place,
    no manifest) is kept: each folder gets its manifest on first read, with a one-line note,
    and nothing is retrained or resampled."""
    from ttc import sampling
    from ttc.family.train import train_member

    spec, config = _tiny_train()
    path = train_member(spec, config, progress=False, device="cpu")
    weights = (path / "model.safetensors").read_bytes()
    model, tokenizer = _tiny_policy()
    problems = _problems()
    reference = _sample(model, tokenizer, problems)
    (folder,) = list((cache / "samples").iterdir())
    _unmanifest(path)
    _unmanifest(folder)
    capsys.readouterr()

    def forbidden(*args, **kwargs):
        raise AssertionError("an adopted artifact must not be recomputed")

    real = sampling.generate
    sampling.generate = forbidden
    try:
        assert train_member(spec, config, progress=False, device="cpu",
                            resume_every=0) == path
        pd.testing.assert_frame_equal(_sample(model, tokenizer, problems), reference)
    finally:
        sampling.generate = real
    err = capsys.readouterr().err
    assert err.count("written before manifests") == 2 and "damaged" not in err
    assert (path / "model.safetensors").read_bytes() == weights
    verify_manifest(path)
    verify_manifest(folder)


DAMAGE = {"truncated": _truncate, "flipped": _flip}


def _one_line(stderr: str, word: str) -> str:
    lines = [line for line in stderr.splitlines() if word in line]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path / "cache"
    torch.set_num_threads(threads)


def _tiny_train():
    from ttc.family.specs import ModelSpec
    from ttc.family.train import TrainConfig
    from ttc.tasks import TaskConfig

    config = TrainConfig(steps=6, batch_size=2, block_size=32, eval_every=3, n_val_blocks=2,
                         task=TaskConfig(min_ops=1, max_ops=2))
    return ModelSpec("tiny", 32, 1), config


@pytest.mark.parametrize("damage", ["truncated", "flipped", "config"])
def test_damaged_checkpoint_is_reported_and_retrained(cache, capsys, damage):
    from ttc.family.train import load_member, train_member

    spec, config = _tiny_train()
    path = train_member(spec, config, progress=False, device="cpu")
    weights = (path / "model.safetensors").read_bytes()
    if damage == "config":
        _flip(path / "config.json")
    else:
        DAMAGE[damage](path / "model.safetensors")
        with pytest.raises(DamagedArtifact, match="model.safetensors"):
            load_member(path)  # never silently loaded
    capsys.readouterr()
    assert train_member(spec, config, progress=False, device="cpu") == path
    line = _one_line(capsys.readouterr().err, "damaged checkpoint")
    assert "training it again" in line
    verify_manifest(path)
    assert (path / "model.safetensors").read_bytes() == weights  # retrained, same weights


@pytest.mark.parametrize("damage", ["truncated", "flipped", "no marker"])
def test_damaged_finetuned_checkpoint_is_reported_and_removed(cache, capsys, damage):
    """Verifiers and revision models share this writer and this check."""
    from transformers import LlamaForCausalLM

    from ttc.family.specs import get_spec
    from ttc.finetune import cached_checkpoint, save_checkpoint
    from ttc.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    model = LlamaForCausalLM(get_spec("f32x2").llama_config(len(tokenizer), 64))
    path = save_checkpoint(cache / "checkpoints" / "orm-x", model, tokenizer, {"kind": "orm"})
    assert cached_checkpoint(path)
    if damage == "no marker":  # neither a manifest nor the old completion marker: partial
        _unmanifest(path)
        (path / "training.json").unlink()
    else:
        DAMAGE[damage](path / "model.safetensors")
    assert not cached_checkpoint(path)
    _one_line(capsys.readouterr().err, "damaged checkpoint")
    assert not path.exists()


def _tiny_policy():
    from transformers import LlamaForCausalLM

    from ttc.family.specs import ModelSpec
    from ttc.tokenizer import build_tokenizer

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    model = LlamaForCausalLM(ModelSpec("t", 32, 1).llama_config(len(tokenizer), 64))
    return model, tokenizer


def _sample(model, tokenizer, problems, **kw):
    from ttc.sampling import SampleSpec, draw_samples

    spec = SampleSpec(n_samples=3, max_new_tokens=10, problems_per_shard=2, **kw)
    return draw_samples(model, tokenizer, "tiny", problems, spec, progress=False)


def _problems():
    from ttc.tasks import TaskConfig, generate_problems

    return generate_problems(TaskConfig(min_ops=1, max_ops=2), "test", 3, seed=0)  # 6


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_damaged_sample_table_is_reported_and_recomputed(cache, capsys, damage):
    model, tokenizer = _tiny_policy()
    problems = _problems()
    reference = _sample(model, tokenizer, problems)
    (folder,) = list((cache / "samples").iterdir())  # the shards are gone once merged
    DAMAGE[damage](folder / "samples.parquet")
    with pytest.raises(DamagedArtifact):
        read_verified_frame(folder, "samples.parquet")
    capsys.readouterr()
    again = _sample(model, tokenizer, problems)
    _one_line(capsys.readouterr().err, "damaged samples")
    pd.testing.assert_frame_equal(again, reference)
    read_verified_frame(folder, "samples.parquet")


@pytest.mark.parametrize("damage", ["truncated", "flipped", "no manifest"])
def test_damaged_sample_shard_is_reported_and_recomputed(cache, capsys, monkeypatch, damage):
    from ttc import sampling

    model, tokenizer = _tiny_policy()
    problems = _problems()
    real, calls = sampling.generate, []

    def interrupted(*args, **kwargs):  # stop after two of the three shards
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sampling, "generate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _sample(model, tokenizer, problems)
    monkeypatch.setattr(sampling, "generate", real)
    shard = next((cache / "samples").glob("*.shards/shard-00000"))
    if damage == "no manifest":
        _unmanifest(shard)
    else:
        DAMAGE[damage](shard / "samples.parquet")
    capsys.readouterr()
    resumed = _sample(model, tokenizer, problems)
    line = _one_line(capsys.readouterr().err, "damaged sample shard")
    assert "shard-00000" in line and "sampling it again" in line
    monkeypatch.setenv("TTC_CACHE", str(cache.parent / "fresh"))
    pd.testing.assert_frame_equal(resumed, _sample(model, tokenizer, problems))


@pytest.mark.parametrize("damage", ["truncated", "flipped", "no manifest", "facts"])
def test_damaged_results_table_is_reported_and_recomputed(cache, capsys, damage):
    from ttc.pipeline import chapter_result
    from ttc.results import load_result, result_dir

    first = chapter_result("01_accounting", "smoke")
    folder = result_dir("01_accounting", first.key)
    if damage == "no manifest":
        _unmanifest(folder)
    elif damage == "facts":
        _flip(folder / "facts.json")
    else:
        DAMAGE[damage](sorted(folder.glob("*.parquet"))[0])
    with pytest.raises(DamagedArtifact):
        load_result("01_accounting", first.config, first.key)
    capsys.readouterr()
    second = chapter_result("01_accounting", "smoke")
    line = _one_line(capsys.readouterr().err, "damaged")
    assert "recomputing" in line
    for name in first.tables:
        pd.testing.assert_frame_equal(second[name], first[name])
    assert second.facts == first.facts


def test_atomic_dir_keeps_the_copy_that_lands_first(tmp_path, monkeypatch):
    """Another process may rename its folder in between our check and our rename."""
    from ttc import cache as cache_mod

    target, real_rename = tmp_path / "artifact", os.rename

    def racing_rename(src, dst):
        Path(dst).mkdir()
        (Path(dst) / "theirs").write_text("first")
        return real_rename(src, dst)

    monkeypatch.setattr(cache_mod.os, "rename", racing_rename)
    with cache_mod.atomic_dir(target) as tmp:
        (tmp / "ours").write_text("second")
    assert [p.name for p in tmp_path.iterdir()] == ["artifact"]  # no temporary left
    assert [p.name for p in target.iterdir()] == ["theirs"]


@pytest.mark.parametrize("manifest", ['{"files": {"a": "x"}}', '{"files": []}', "[1]",
                                      '{"files": {"a": {"bytes": "1", "sha256": 2}}}', "\xff"])
def test_malformed_manifest_is_damage(tmp_path, manifest):
    (tmp_path / "a").write_text("x")
    (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(DamagedArtifact, match="manifest.json is not readable"):
        verify_manifest(tmp_path)


def test_discard_artifact_frees_the_name_at_once(tmp_path):
    from ttc.cache import discard_artifact, write_manifest

    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "table.parquet").write_bytes(b"x" * 10)
    write_manifest(folder)
    discard_artifact(folder)
    discard_artifact(folder)  # a second process discarding it too is fine
    assert list(tmp_path.iterdir()) == []


# -- determinism ---------------------------------------------------------------------------

def test_same_seed_gives_identical_sample_tables(tmp_path, monkeypatch, cache):
    model, tokenizer = _tiny_policy()
    problems = _problems()
    tables = []
    for name in ("one", "two"):
        monkeypatch.setenv("TTC_CACHE", str(tmp_path / name))
        tables.append(_sample(model, tokenizer, problems, temperature=1.0, seed=7))
    pd.testing.assert_frame_equal(*tables)
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "three"))
    other = _sample(model, tokenizer, problems, temperature=1.0, seed=8)
    assert not other["completion"].equals(tables[0]["completion"])  # the seed matters


def test_same_seed_gives_identical_chapter_tables(tmp_path, monkeypatch):
    from ttc.pipeline import chapter_result

    results = []
    for name in ("one", "two"):
        monkeypatch.setenv("TTC_CACHE", str(tmp_path / name))
        results.append(chapter_result("01_accounting", "smoke"))
    one, two = results
    assert one.key == two.key and set(one.tables) == set(two.tables)
    for name in one.tables:
        pd.testing.assert_frame_equal(one[name], two[name])
    assert one.facts == two.facts


# -- no network ----------------------------------------------------------------------------

@pytest.mark.slow
def test_book_builds_without_network(smoke_book):
    """The smoke book is built inside a network namespace with only loopback (``unshare
    -rn``): a build that opened a connection to anywhere would have failed."""
    if not smoke_book.offline:
        pytest.skip(f"could not build without network: {smoke_book.offline_reason}")
    assert smoke_book.offline
    assert (smoke_book / "index.html").is_file()
