"""Each notebook's parameters cell declares exactly its chapter config's fields and defaults."""

import ast
import dataclasses

import jupytext
import pytest

from ttc.chapters import CHAPTERS
from ttc.paths import notebooks_dir


def _parameters_cell(key):
    notebook = jupytext.read(notebooks_dir() / f"{key}.md")
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{key} must have exactly one cell tagged 'parameters'"
    values = {}
    for node in ast.parse(cells[0].source).body:
        assert isinstance(node, ast.Assign), f"{key}: parameters cell holds only assignments"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def test_every_notebook_is_registered():
    files = {p.stem for p in notebooks_dir().glob("*.md")}
    assert files == set(CHAPTERS)


@pytest.mark.parametrize("key", list(CHAPTERS))
def test_parameters_cell_matches_config(key):
    values = _parameters_cell(key)
    defaults = {f.name: f.default for f in dataclasses.fields(CHAPTERS[key].config_cls)}
    assert values.keys() == defaults.keys()
    for name, value in values.items():
        assert value == defaults[name], f"{key}: default of {name!r} differs from the config"
