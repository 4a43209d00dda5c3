"""The one-way pipeline: the chapter DAG, the results store, and warm runs that compute nothing."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from ttc import pipeline, results
from ttc.cache import DamagedArtifact
from ttc.chapters import CHAPTERS, get_chapter, upstream
from ttc.config import ConfigError
from ttc.profiles import ProfileError, load_profile

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ttc"


# -- the DAG ----------------------------------------------------------------------------------

def test_every_chapter_reads_only_earlier_chapters():
    order = list(CHAPTERS)
    for key, chapter in CHAPTERS.items():
        assert all(order.index(r) < order.index(key) for r in chapter.reads), key


def test_upstream_is_the_transitive_closure_in_order():
    assert upstream("01_accounting") == []
    assert upstream("03_sampling") == ["02_family"]
    assert upstream("08_floor") == ["02_family", "03_sampling", "04_verifiers", "05_search",
                                    "06_revisions", "07_compute_optimal"]


def test_unknown_chapter_is_one_line():
    with pytest.raises(ConfigError, match="unknown chapter 'bogus'; allowed: 01_accounting"):
        get_chapter("bogus")


def test_profile_missing_a_chapter_fails(tmp_path):
    path = tmp_path / "partial.yaml"
    path.write_text("01_accounting: {}\n02_family: {}\n")
    with pytest.raises(ProfileError, match="no entry for chapter.s. 03_sampling"):
        load_profile(path)


@pytest.mark.parametrize("key", list(CHAPTERS))
def test_config_classes_follow_one_pattern_and_hold_no_profile(key):
    cls = CHAPTERS[key].config_cls
    assert cls.__name__.endswith("ChapterConfig")
    assert not [f.name for f in dataclasses.fields(cls) if f.name.endswith("_profile")]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n.startswith("ttc")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycle_in_the_package():
    """Every import in src/ttc (module level or not) forms a DAG."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: {m for m in _imports(path) if m in modules and m != name}
             for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(node, trail):
        if state.get(node) == 1:
            cycle = trail[trail.index(node):] + [node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in sorted(graph[node]):
            if not (node.startswith(nxt + ".") or nxt == "ttc"):  # a package's own parent
                visit(nxt, [*trail, node])
        state[node] = 2

    for name in sorted(graph):
        visit(name, [])


def test_chapter_modules_never_import_each_other():
    for path in (PACKAGE / "chapters").glob("ch*.py"):
        chapters = {m for m in _imports(path) if m.startswith("ttc.chapters")}
        assert not chapters, f"{path.name} imports {chapters}"


def test_chapter_modules_do_not_shadow_library_modules():
    library = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir()
                                                        if p.is_dir()}
    for path in (PACKAGE / "chapters").glob("ch*.py"):
        assert path.stem not in library


# -- the results store ------------------------------------------------------------------------

@pytest.fixture
def scratch_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _result(key="k1"):
    tables = {"a": pd.DataFrame({"x": [1, 2, 3], "y": ["p", None, "r"]}),
              "crosstab": pd.DataFrame({"bin": [1, 2], 1: [3, 0], 2: [0, 4]})}
    tables = {n: results.storable(n, t) for n, t in tables.items()}
    return results.ChapterResult("01_accounting", None, tables, {"n": "3", "z": 0.5}, key)


def test_store_round_trip(scratch_cache):
    saved = _result()
    results.save_result(saved)
    loaded = results.load_result("01_accounting", None, "k1")
    assert loaded.facts == {"n": "3", "z": 0.5}
    pd.testing.assert_frame_equal(loaded["a"], saved["a"])
    assert list(loaded["crosstab"].columns) == ["bin", "1", "2"]
    assert results.load_result("01_accounting", None, "other") is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_damaged_result_is_caught(scratch_cache, damage):
    folder = results.save_result(_result())
    target = folder / "a.parquet"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:20])
    elif damage == "flip":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "delete":
        target.unlink()
    else:
        (folder / "manifest.json").unlink()
    with pytest.raises(DamagedArtifact) as err:
        results.load_result("01_accounting", None, "k1")
    assert "\n" not in str(err.value)


def test_result_key_depends_on_config_upstream_and_code(monkeypatch):
    base = results.result_key("03_sampling", {"a": 1}, {"02_family": "x"})
    assert base == results.result_key("03_sampling", {"a": 1}, {"02_family": "x"})
    assert base != results.result_key("03_sampling", {"a": 2}, {"02_family": "x"})
    assert base != results.result_key("03_sampling", {"a": 1}, {"02_family": "y"})
    monkeypatch.setattr(results, "code_version", lambda: "edited")
    assert base != results.result_key("03_sampling", {"a": 1}, {"02_family": "x"})


# -- the pipeline -----------------------------------------------------------------------------

@pytest.fixture
def accounting_runs(monkeypatch):
    """The configs chapter 1 is computed with, from now on (its ``run``, counted)."""
    calls = []
    original = CHAPTERS["01_accounting"]

    def counting_run(config, inputs, progress=False):
        calls.append(config)
        return original.run(config, inputs, progress)

    monkeypatch.setitem(CHAPTERS, "01_accounting",
                        dataclasses.replace(original, run=counting_run))
    return calls


def test_pipeline_computes_once_then_loads(scratch_cache, accounting_runs):
    calls = accounting_runs
    first = pipeline.chapter_result("01_accounting", "smoke")
    second = pipeline.chapter_result("01_accounting", "smoke")
    assert len(calls) == 1 and first.key == second.key
    pd.testing.assert_frame_equal(first["family"], second["family"])
    assert first.facts == second.facts
    other = pipeline.chapter_result("01_accounting", "smoke", {"n_points": 7})
    assert len(calls) == 2 and other.key != first.key and len(other["curve"]) == 7 * 4


def test_stored_only_never_computes_the_chapter(scratch_cache, accounting_runs):
    calls = accounting_runs
    assert pipeline.chapter_result("01_accounting", "smoke", {"n_points": 5},
                                   stored_only=True) is None
    assert not calls
    stored = pipeline.chapter_result("01_accounting", "smoke", {"n_points": 5})
    again = pipeline.chapter_result("01_accounting", "smoke", {"n_points": 5},
                                    stored_only=True)
    assert len(calls) == 1 and again.key == stored.key
    with pytest.raises(ConfigError, match="'recompute' or 'stored_only'"):
        pipeline.chapter_result("01_accounting", "smoke", recompute=True, stored_only=True)


def test_damaged_result_is_recomputed(scratch_cache, capsys):
    first = pipeline.chapter_result("01_accounting", "smoke")
    folder = results.result_dir("01_accounting", first.key)
    (folder / "curve.parquet").write_bytes(b"garbage")
    again = pipeline.chapter_result("01_accounting", "smoke")
    assert "damaged" in capsys.readouterr().err
    pd.testing.assert_frame_equal(first["curve"], again["curve"])


def test_store_key_matches_the_computed_result(scratch_cache):
    params = load_profile("smoke")["01_accounting"]
    computed = pipeline.chapter_result("01_accounting", "smoke")
    assert pipeline.store_key("01_accounting", "smoke", params) == computed.key


def test_notebook_result_reads_upstream_from_the_profile(scratch_cache):
    namespace = {"profile": "smoke", "n_points": 9}
    result = pipeline.notebook_result("01_accounting", namespace)
    assert result.config.n_points == 9
