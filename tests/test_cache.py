"""Atomic writes: a failure never leaves a half-written artifact behind."""

import pandas as pd
import pytest

from ttc import cache


def test_atomic_file_commits_on_success(tmp_path):
    target = tmp_path / "a" / "table.parquet"
    frame = pd.DataFrame({"x": [1, 2]})
    cache.write_frame(frame, target)
    pd.testing.assert_frame_equal(cache.read_frame(target), frame)
    assert [p.name for p in target.parent.iterdir()] == ["table.parquet"]


def test_atomic_file_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.csv"
    with pytest.raises(RuntimeError), cache.atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir(tmp_path):
    target = tmp_path / "ckpt"
    with pytest.raises(RuntimeError), cache.atomic_dir(target) as tmp:
        (tmp / "weights").write_text("half")
        raise RuntimeError("interrupted")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with cache.atomic_dir(target) as tmp:
        (tmp / "weights").write_text("full")
    assert (target / "weights").read_text() == "full"


def test_cache_root_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    assert cache.artifact_path("checkpoints", "abc") == tmp_path / "checkpoints" / "abc"


def test_unknown_table_format(tmp_path):
    with pytest.raises(ValueError, match="unsupported table format"):
        cache.write_frame(pd.DataFrame(), tmp_path / "x.xlsx")
