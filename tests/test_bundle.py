"""Cache bundles: a profile's artifacts exported to one archive, imported only when intact.

Most tests run the pipeline with stand-in chapters that use cached artifacts the way the real
ones do (an artifact of their own, keyed by their config, and one they all share), so what an
export must hold is known exactly. One slow test exports the real smoke build and checks that
every chapter runs from the imported cache without training, sampling or a forward pass.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from ttc import cli, pipeline
from ttc.bundle import (
    BUNDLE_MANIFEST,
    BundleError,
    export_bundle,
    import_bundle,
    profile_artifacts,
)
from ttc.cache import ENV_VAR, artifact_path, atomic_dir, save_tables, write_manifest
from ttc.chapters import CHAPTERS
from ttc.config import config_hash

SHARED = "samples/shared-0123456789abcdef"


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones included) with its sha256."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _in(entries: set[str], snapshot: dict[str, str]) -> dict[str, str]:
    """The files of ``snapshot`` that lie in the artifact folders ``entries``."""
    return {rel: sha for rel, sha in snapshot.items()
            if "/".join(rel.split("/")[:2]) in entries}


def _own(key: str, config) -> str:
    """The artifact a stand-in chapter makes for its config."""
    return f"checkpoints/{key}-{config_hash(config)}"


def _stand_in(key: str):
    def run(config, inputs, progress=False):
        shared = artifact_path(*SHARED.split("/"))
        if not shared.exists():
            save_tables(shared, {"samples.parquet": pd.DataFrame({"x": range(100)})})
        own = artifact_path(*_own(key, config).split("/"))
        if not own.exists():
            with atomic_dir(own) as tmp:
                (tmp / "nested").mkdir()
                (tmp / "nested" / "weights.bin").write_bytes(
                    hashlib.sha256(own.name.encode()).digest() * 1000)
                (tmp / "training.json").write_text(json.dumps({"chapter": key}))
                write_manifest(tmp)
        return {"table": pd.DataFrame({"chapter": [key], "inputs": [len(inputs)]})}
    return run


@dataclasses.dataclass
class Built:
    cache: Path
    #: what the smoke profile used: its results and the artifacts its chapters made or read
    used: set[str]
    #: in the cache, not the profile's: another parameter's result and artifact, a stray one
    extra: set[str]


@pytest.fixture
def built(tmp_path, monkeypatch) -> Built:
    """The smoke profile built by stand-in chapters in a scratch cache (TTC_CACHE)."""
    cache = tmp_path / "source"
    monkeypatch.setenv(ENV_VAR, str(cache))
    for key, chapter in list(CHAPTERS.items()):
        monkeypatch.setitem(CHAPTERS, key, dataclasses.replace(
            chapter, run=_stand_in(key), facts=lambda tables, config: {"n": len(tables)}))
    configs = pipeline.profile_configs("smoke")
    used = {SHARED} | {_own(key, config) for key, config in configs.items()}
    for key in CHAPTERS:
        used.add(f"results/{key}-{pipeline.chapter_result(key, 'smoke', quiet=True).key}")
    other = pipeline.chapter_result("01_accounting", "smoke", {"n_points": 7}, quiet=True)
    save_tables(cache / "samples" / "stray-0123456789abcdef",
                {"samples.parquet": pd.DataFrame({"x": [1]})})
    extra = {f"results/01_accounting-{other.key}", _own("01_accounting", other.config),
             "samples/stray-0123456789abcdef"}
    return Built(cache, used, extra)


@pytest.fixture
def archive(built, tmp_path, monkeypatch) -> Path:
    """The smoke profile exported from the built cache (.tar.gz); TTC_CACHE then points at
    an empty cache of the test's own."""
    path = tmp_path / "smoke.tar.gz"
    export_bundle("smoke", path)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "cache"))
    return path


def _manifest(path: Path) -> dict:
    with tarfile.open(path) as tar:
        return json.loads(tar.extractfile(BUNDLE_MANIFEST).read())


# -- what is exported -------------------------------------------------------------------------

def test_export_holds_exactly_what_the_profile_used(built, archive):
    manifest = _manifest(archive)
    assert set(manifest["artifacts"]) == built.used
    assert set(manifest["results"]) == set(CHAPTERS)
    expected = _in(built.used, _snapshot(built.cache))  # every file, nested ones included
    assert any("/nested/" in rel for rel in expected)
    assert {rel: e["sha256"] for rel, e in manifest["files"].items()} == expected
    assert manifest["profile"] == "smoke" and "02_family" in manifest["profile_yaml"]
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == BUNDLE_MANIFEST
    assert sorted(names[1:]) == sorted(f"cache/{rel}" for rel in expected)


def test_each_result_records_the_artifacts_its_chapter_used(built):
    results, artifacts = profile_artifacts("smoke")
    assert set(artifacts) == built.used
    for key, entry in results.items():
        recorded = json.loads((built.cache / entry / "artifacts.json").read_text())
        assert recorded == sorted({SHARED, _own(key, pipeline.profile_configs("smoke")[key])})


def test_export_refuses_a_profile_not_built_or_a_missing_artifact(built, tmp_path, capsys):
    checkpoint = built.cache / _own("03_sampling", pipeline.profile_configs("smoke")[
        "03_sampling"])
    (checkpoint / "training.json").write_text("altered")
    with pytest.raises(BundleError, match="damaged artifact: .*training.json has 7 bytes"):
        export_bundle("smoke", tmp_path / "x.tar.gz")
    shutil.rmtree(checkpoint)
    with pytest.raises(BundleError, match="is gone from the cache, but profile smoke uses it; "
                       r"rebuild it \(ttc run 03_sampling --profile smoke --recompute\)"):
        export_bundle("smoke", tmp_path / "x.tar.gz")
    assert cli.main(["cache", "export", "--profile", "smoke", "--cache", str(tmp_path / "e"),
                     "-o", str(tmp_path / "x.tar")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ttc: error:") and len(err.strip().splitlines()) == 1
    assert "no stored result for 01_accounting" in err
    assert not (tmp_path / "x.tar").exists() and not (tmp_path / "x.tar.gz").exists()
    assert not (tmp_path / "e").exists()


# -- a good archive ---------------------------------------------------------------------------

def test_round_trip_is_byte_identical(built, archive, tmp_path):
    done = import_bundle(archive)
    assert (done.added, done.kept, done.artifacts) == (len(built.used), 0, len(built.used))
    # every file, and nothing else: no staging folder left behind
    assert _snapshot(tmp_path / "cache") == _in(built.used, _snapshot(built.cache))
    assert done.current_results == len(CHAPTERS)


def test_imported_results_load_without_running_a_chapter(built, archive, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("an imported result must load, not run")

    import_bundle(archive)
    for key, chapter in list(CHAPTERS.items()):
        monkeypatch.setitem(CHAPTERS, key, dataclasses.replace(chapter, run=forbidden))
    for key in CHAPTERS:
        result = pipeline.chapter_result(key, "smoke", quiet=True)
        assert list(result["table"]["chapter"]) == [key]


def test_intact_artifacts_are_kept_and_damaged_ones_replaced(built, archive, tmp_path):
    import_bundle(archive)
    target = tmp_path / "cache"
    kept = target / "checkpoints" / _own("02_family", pipeline.profile_configs("smoke")[
        "02_family"]).split("/")[1] / "nested" / "weights.bin"
    inode = kept.stat().st_ino
    (target / SHARED / "samples.parquet").write_bytes(b"damaged")
    done = import_bundle(archive)
    assert (done.added, done.kept) == (1, len(built.used) - 1)
    assert kept.stat().st_ino == inode
    assert _snapshot(target) == _in(built.used, _snapshot(built.cache))


def test_a_killed_import_s_staging_folder_is_removed_later(archive, tmp_path):
    import os
    import time

    stale, running = tmp_path / "cache" / ".import-a.tmp", tmp_path / "cache" / ".import-b.tmp"
    for folder in (stale, running):
        (folder / "checkpoints" / "x").mkdir(parents=True)
    day_ago = time.time() - 25 * 3600
    os.utime(stale, (day_ago, day_ago))
    import_bundle(archive)
    assert not stale.exists() and running.is_dir()


def test_cli_round_trip_prints_one_summary_each(built, tmp_path, capsys):
    path = tmp_path / "smoke.tar"
    assert cli.main(["cache", "export", "--profile", "smoke", "--cache", str(built.cache),
                     "-o", str(path)]) == 0
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1
    assert f"{len(built.used)} artifacts" in out and "MB" in out and str(path) in out
    assert path.read_bytes()[:2] != b"\x1f\x8b"  # a .tar name: not gzip-compressed
    assert cli.main(["cache", "import", str(path), "--cache", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert f"{len(built.used)} artifacts added, 0 already present" in out
    assert f"profile smoke: {len(CHAPTERS)} of {len(CHAPTERS)} chapters" in out


@pytest.mark.slow
def test_a_smoke_build_runs_from_its_bundle_without_training_or_sampling(
        smoke_book, tmp_path, monkeypatch):
    """The real smoke build, exported and imported into an empty cache: every chapter loads
    its result; with the results removed, every chapter is computed again from the imported
    artifacts, with no training step, no sampling and no forward pass, to the same tables."""
    import torch

    from ttc import sampling
    from ttc.cache import cache_root

    monkeypatch.setenv("TTC_ROOT", str(smoke_book.parents[2]))
    source = cache_root()
    archive = tmp_path / "smoke.tar.gz"
    exported = export_bundle("smoke", archive)
    manifest = _manifest(archive)
    kinds = {entry.split("/")[0] for entry in manifest["artifacts"]}
    assert {"checkpoints", "samples", "greedy", "labels", "scores", "search", "revisions",
            "results"} <= kinds
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "cache"))
    done = import_bundle(archive)
    assert done.added == exported.artifacts and done.current_results == len(CHAPTERS)
    assert _snapshot(tmp_path / "cache") == _in(set(manifest["artifacts"]), _snapshot(source))

    def forbidden(*args, **kwargs):
        raise AssertionError("an imported cache must not need training, sampling or decoding")

    for module in [m for name, m in sys.modules.items() if name.startswith("ttc")]:
        for attr, value in list(vars(module).items()):
            if value is sampling.generate:  # bound by name in some modules
                monkeypatch.setattr(module, attr, forbidden)
    monkeypatch.setattr(torch.nn.Module, "__call__", forbidden)  # no forward pass at all
    monkeypatch.setattr(torch.optim.Optimizer, "step", forbidden)  # no training step

    with monkeypatch.context() as warm:
        for key, chapter in list(CHAPTERS.items()):
            warm.setitem(CHAPTERS, key, dataclasses.replace(chapter, run=forbidden))
        loaded = {key: pipeline.chapter_result(key, "smoke", quiet=True) for key in CHAPTERS}

    shutil.rmtree(tmp_path / "cache" / "results")
    for key in CHAPTERS:
        assert pipeline.chapter_result(key, "smoke", quiet=True).key == loaded[key].key
        again = pipeline.chapter_result(key, "smoke", quiet=True)  # as stored, like loaded
        assert again.facts == loaded[key].facts, key
        for name, table in loaded[key].tables.items():
            pd.testing.assert_frame_equal(again[name], table, obj=f"{key} {name}")


# -- archives that are refused ----------------------------------------------------------------

def _refused(path: Path, cache: Path, capsys, match: str) -> None:
    """Importing ``path`` fails with one line, exit status 2, and the cache as it was."""
    before = _snapshot(cache)
    existed = cache.exists()
    assert cli.main(["cache", "import", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("ttc: error:") and len(captured.err.splitlines()) == 1
    assert "Traceback" not in captured.err and match in captured.err, captured.err
    assert _snapshot(cache) == before and cache.exists() == existed


def _plain(built: Built, tmp_path: Path, monkeypatch) -> Path:
    """The profile exported uncompressed (.tar); TTC_CACHE stays on the test's own cache."""
    monkeypatch.setenv(ENV_VAR, str(built.cache))
    path = tmp_path / "smoke.tar"
    export_bundle("smoke", path)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "cache"))
    return path


@pytest.mark.parametrize("fill", [False, True], ids=["empty cache", "cache with one artifact"])
def test_truncated_archive_is_refused(archive, tmp_path, capsys, fill):
    cache = tmp_path / "cache"
    if fill:
        save_tables(cache / "scores" / "0123456789abcdef", {"a.parquet": pd.DataFrame({"a": [1]})})
    data = archive.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, len(data) - 4):  # the last: the gzip trailer
        truncated = tmp_path / f"cut{cut}.tar.gz"
        truncated.write_bytes(data[:cut])
        _refused(truncated, cache, capsys, "damaged or truncated")


def test_truncated_plain_tar_is_refused(built, tmp_path, monkeypatch, capsys):
    path = _plain(built, tmp_path, monkeypatch)
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        end = tar.offset  # where the end-of-archive marker starts
    data = path.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[:members[len(members) // 2].offset])  # at a member's header
    _refused(cut, tmp_path / "cache", capsys, "truncated")
    cut.write_bytes(data[:members[-1].offset_data + 10])  # inside the last member's data
    _refused(cut, tmp_path / "cache", capsys, "damaged or truncated")
    cut.write_bytes(data[:end])  # every member whole, the end-of-archive marker gone
    _refused(cut, tmp_path / "cache", capsys, "without the end-of-archive marker")


def test_flipped_byte_is_refused(built, archive, tmp_path, monkeypatch, capsys):
    # compressed: the gzip stream's checks (or the file's sha256) fail
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped = tmp_path / "flipped.tar.gz"
    flipped.write_bytes(bytes(data))
    _refused(flipped, tmp_path / "cache", capsys, "flipped.tar.gz")
    # uncompressed: a byte inside a file's data, caught by its sha256
    path = _plain(built, tmp_path, monkeypatch)
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("weights.bin"))
    data = bytearray(path.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0x01
    path.write_bytes(bytes(data))
    _refused(path, tmp_path / "cache", capsys, f"{member.name} differs from the archive's "
             "manifest (sha256)")


def _crafted(path: Path, manifest: dict, members: list[tuple[tarfile.TarInfo, bytes]]):
    with tarfile.open(path, "w") as tar:
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo(BUNDLE_MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for info, content in members:
            info.size = len(content) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(content) if info.isreg() else None)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    ("member", "match"),
    [
        (_file("cache/../../escaped"), "would leave the cache"),
        (_file("/tmp/escaped-absolute"), "would leave the cache"),
        (_file("cache/results/x-1/../../../../escaped"), "would leave the cache"),
        (_link("cache/results/x-1/link", "/etc/passwd"), "is a link"),
        (_link("cache/results/x-1/hard", "/etc/passwd", tarfile.LNKTYPE), "is a link"),
        (_file("elsewhere/results/x-1/a"), "outside cache/"),
    ],
    ids=["dotdot", "absolute", "dotdot inside", "symlink", "hardlink", "outside prefix"],
)
def test_member_escaping_the_cache_is_refused(archive, tmp_path, capsys, member, match):
    manifest = _manifest(archive)
    path = _crafted(tmp_path / "evil.tar", manifest, [(member, b"evil")])
    _refused(path, tmp_path / "cache", capsys, match)
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/escaped-absolute").exists()


def test_manifest_naming_a_path_outside_the_cache_is_refused(archive, tmp_path, capsys):
    manifest = _manifest(archive)
    manifest["files"]["results/x-1/../../../escaped"] = {"bytes": 4, "sha256": "0" * 64}
    path = _crafted(tmp_path / "evil.tar", manifest, [])
    _refused(path, tmp_path / "cache", capsys, "would leave the cache")
    manifest = _manifest(archive)
    manifest["artifacts"].append("../outside")
    path = _crafted(tmp_path / "evil2.tar", manifest, [])
    _refused(path, tmp_path / "cache", capsys, "is not an artifact of the cache")


def test_member_missing_from_the_manifest_or_an_archive_without_one_is_refused(
        archive, tmp_path, capsys):
    path = _crafted(tmp_path / "extra.tar", _manifest(archive),
                    [(_file("cache/results/extra-1/a.parquet"), b"x")])
    _refused(path, tmp_path / "cache", capsys, "is not in the archive's manifest")
    path = _crafted(tmp_path / "short.tar", _manifest(archive), [])  # whole, but no files
    _refused(path, tmp_path / "cache", capsys, "of its manifest are missing")
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        info = tarfile.TarInfo("cache/results/x-1/a")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    _refused(plain, tmp_path / "cache", capsys, "not a ttc cache bundle")
    _refused(tmp_path / "missing.tar.gz", tmp_path / "cache", capsys, "no such archive")


def test_recording_collects_the_artifacts_looked_up_inside_the_block(tmp_path, monkeypatch):
    from ttc.cache import artifact_path, recording_artifacts

    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    artifact_path("samples", "before")
    with recording_artifacts() as outer:
        artifact_path("checkpoints", "a")
        with recording_artifacts() as inner:
            assert artifact_path("samples", "b") == tmp_path / "samples" / "b"
        artifact_path("checkpoints", "a")
    artifact_path("samples", "after")
    assert outer == {"checkpoints/a", "samples/b"} and inner == {"samples/b"}
