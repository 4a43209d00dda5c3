"""Notebook sources: one parameters cell matching the chapter config, and thin, lint-clean code.

A chapter notebook holds a parameters cell, one call that loads or computes the chapter's
published result, figures from ``ttc.plots``, tables from ``ttc.report`` and prose with glue.
Logic lives in the package, where it is tested.
"""

import ast
import dataclasses
import subprocess
import sys

import jupytext
import pytest

from ttc.chapters import CHAPTERS
from ttc.paths import notebooks_dir

#: the build's profile: injected by the runner, not a chapter parameter
BUILD_PARAMETERS = {"profile": "smoke"}


def _notebook(key):
    return jupytext.read(notebooks_dir() / f"{key}.md")


def _parameters_cell(key):
    cells = [c for c in _notebook(key).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{key} must have exactly one cell tagged 'parameters'"
    values = {}
    for node in ast.parse(cells[0].source).body:
        assert isinstance(node, ast.Assign), f"{key}: parameters cell holds only assignments"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def _code(key) -> str:
    cells = [c.source for c in _notebook(key).cells if c.cell_type == "code"]
    return "\n\n".join(cells) + "\n"


def test_every_notebook_is_registered():
    files = {p.stem for p in notebooks_dir().glob("*.md")}
    assert files == set(CHAPTERS)


@pytest.mark.parametrize("key", list(CHAPTERS))
def test_parameters_cell_matches_config(key):
    values = _parameters_cell(key)
    defaults = {f.name: f.default for f in dataclasses.fields(CHAPTERS[key].config_cls)}
    assert values.keys() == defaults.keys() | BUILD_PARAMETERS.keys()
    for name, value in values.items():
        expected = BUILD_PARAMETERS[name] if name in BUILD_PARAMETERS else defaults[name]
        assert value == expected, f"{key}: default of {name!r} differs from the config"


@pytest.mark.parametrize("key", list(CHAPTERS))
def test_notebook_code_is_thin(key):
    """No function or class definitions, and the chapter's result from one pipeline call."""
    tree = ast.parse(_code(key))
    defined = [n.name for n in ast.walk(tree)
               if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))]
    assert not defined, f"{key} defines {defined}: move them into the package"
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, "attr", None) == "notebook_result"]
    assert len(calls) == 1, f"{key}: load the chapter's result with one notebook_result call"
    assert "run(" not in _code(key).replace("notebook_result(", ""), \
        f"{key}: notebooks load published results; they never call a chapter's run"
    # exercise solutions (fenced code, not cells) too: helpers belong in the package
    text = (notebooks_dir() / f"{key}.md").read_text()
    defs = [line for line in text.splitlines() if line.lstrip().startswith(("def ", "class "))]
    assert not defs, f"{key} defines {defs} in its text: move them into the package"


def test_notebook_code_is_ruff_clean(tmp_path):
    """Ruff on every notebook's code cells (as one script per notebook). Allowed there only:
    imports after the parameters cell (E402), a bare expression that displays (B018) and the
    trailing ``;`` that stops a figure call's return value from being shown (E703)."""
    for key in CHAPTERS:
        (tmp_path / f"nb_{key}.py").write_text(_code(key))
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
         str(notebooks_dir().parent / "pyproject.toml"), "--ignore", "E402,B018,E703",
         str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
