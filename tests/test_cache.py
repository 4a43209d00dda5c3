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


def test_table_artifacts_are_verified_adopted_and_recomputed(tmp_path, capsys):
    """Chapter-level caches (greedy answers, labels, scores, searches, revision chains):
    written with a manifest, read back verified; a damaged folder is reported in one line and
    removed (so it is computed again); a finished folder from before manifests is adopted."""
    import pandas as pd

    from ttc.cache import load_tables, save_tables, verify_manifest

    tables = {"a.parquet": pd.DataFrame({"x": [1, 2]}), "b.parquet": pd.DataFrame({"y": ["u"]})}
    folder = save_tables(tmp_path / "scores" / "k", tables)
    loaded = load_tables(folder, list(tables))
    pd.testing.assert_frame_equal(loaded["b.parquet"], tables["b.parquet"])
    assert load_tables(tmp_path / "scores" / "absent", list(tables)) is None

    data = bytearray((folder / "a.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "a.parquet").write_bytes(bytes(data))
    capsys.readouterr()
    assert load_tables(folder, list(tables)) is None and not folder.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "damaged artifact" in err[0] and "a.parquet" in err[0]

    legacy = tmp_path / "scores" / "old"  # the old code: files, no manifest, last one a marker
    legacy.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(legacy / name, index=False)
    assert load_tables(legacy, list(tables)) is not None
    assert "written before manifests" in capsys.readouterr().err
    verify_manifest(legacy)

    partial = tmp_path / "scores" / "partial"  # killed before its last table: not finished
    partial.mkdir()
    tables["a.parquet"].to_parquet(partial / "a.parquet", index=False)
    assert load_tables(partial, list(tables)) is None and not partial.exists()
