"""Exercises and reader aids in the notebook sources: solutions are executable cells, every
exercise says how long its solution runs, every figure is referred to from the prose, every
glossary term a chapter links to is defined, and every chapter says how to run it.

These read the sources only; the book build (tests/test_book.py) executes the solution cells
under the smoke profile and builds with warnings as errors."""

from __future__ import annotations

import re

import jupytext
import pytest
import yaml

from ttc.chapters import CHAPTERS
from ttc.family.specs import get_spec, intermediate_spec
from ttc.paths import book_dir, notebooks_dir
from ttc.student import SOLUTION_TAG, solutions

SOLUTION = re.compile(r"```\{solution-start\}.*?```\{solution-end\}\n```", re.S)
EXERCISE = re.compile(r"```\{exercise\}\n(.*?)\n```\n", re.S)


def _text(key: str) -> str:
    return (notebooks_dir() / f"{key}.md").read_text()


def test_intermediate_spec_sits_between_two_members():
    # width: geometric mean on the 16-grid (sqrt(96 * 128) = 110.9 -> 112); depth: mean, up
    assert intermediate_spec(get_spec("f96x3"), get_spec("f128x4")) == \
        intermediate_spec(get_spec("f128x4"), get_spec("f96x3"))
    spec = intermediate_spec(get_spec("f96x3"), get_spec("f128x4"))
    assert (spec.name, spec.d_model, spec.n_layers) == ("f112x4", 112, 4)
    # sqrt(32 * 64) = 45.3 -> 48; (2 + 3) / 2 rounded up -> 3
    spec = intermediate_spec(get_spec("f64x3"), get_spec("f32x2"))
    assert (spec.name, spec.d_model, spec.n_layers) == ("f48x3", 48, 3)
    assert intermediate_spec(get_spec("f32x2"), get_spec("f32x2")) == get_spec("f32x2")


@pytest.mark.parametrize("key", list(CHAPTERS))
def test_every_solution_is_an_executable_cell(key):
    """Each solution holds a code cell tagged ``solution`` and no fenced Python: its code
    runs when the notebook runs, so it cannot go stale."""
    text = _text(key)
    blocks = SOLUTION.findall(text)
    assert blocks and len(blocks) == len(EXERCISE.findall(text)), key
    for block in blocks:
        assert "```{code-cell} ipython3\n:tags: [solution]\n" in block, block[:200]
        assert "```python" not in block, f"{key}: fenced Python in a solution: make it a cell"
    notebook = jupytext.read(notebooks_dir() / f"{key}.md")
    tagged = [c for c in notebook.cells if SOLUTION_TAG in c.metadata.get("tags", [])]
    assert len(tagged) == text.count(":tags: [solution]")
    assert len(solutions(notebook, key)) == len(blocks)  # fences and tags agree


@pytest.mark.parametrize("key", list(CHAPTERS))
def test_every_exercise_states_its_run_time(key):
    for body in EXERCISE.findall(_text(key)):
        assert re.search(r"runs in (under a second|[\d.,]+ s)", body), body[:200]
        assert "⟨" not in body, f"{key}: a time placeholder is left in an exercise"


@pytest.mark.parametrize("key", list(CHAPTERS))
def test_every_figure_is_referred_to(key):
    text = _text(key)
    names = re.findall(r"^\s+name: (fig-[\w-]+)$", text, re.M)
    assert names, key
    missing = [n for n in names if f"{{numref}}`{n}`" not in text]
    assert not missing, f"{key}: figures never referred to from the prose: {missing}"


def _glossary_terms() -> set[str]:
    text = (book_dir() / "glossary.md").read_text()
    body = text.split("```{glossary}\n", 1)[1].split("\n```", 1)[0]
    return {line.strip().lower() for line in body.splitlines()
            if line.strip() and not line.startswith(" ")}


def test_glossary_is_in_the_book_and_every_linked_term_is_defined():
    terms = _glossary_terms()
    assert 15 <= len(terms) <= 40
    for required in ("pass@k", "best-of-n", "weighted best-of-n", "majority vote", "prm", "orm",
                     "verifier", "within-problem auc", "flops-matched", "r", "beam search",
                     "lookahead search", "dvts", "revision", "difficulty bin",
                     "perfect verifier", "break-even r", "compute-optimal",
                     "test-time compute", "family member"):
        assert required in terms, required
    toc = yaml.safe_load((book_dir() / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert "glossary" in files and "instructor" in files
    sources = [_text(key) for key in CHAPTERS] + [(book_dir() / "glossary.md").read_text()]
    used = set()
    for text in sources:
        for role in re.findall(r"\{term\}`([^`]+)`", text):
            target = re.search(r"<([^>]+)>$", role)
            used.add((target.group(1) if target else role).strip().lower())
    assert used - terms == set()
    linked_from_chapters = {t for key in CHAPTERS
                            for t in re.findall(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`", _text(key))}
    assert len(linked_from_chapters) >= 15


@pytest.mark.parametrize("key", list(CHAPTERS))
def test_every_chapter_says_how_to_run_it(key):
    text = _text(key)
    box = re.search(r"```\{admonition\} Run this chapter\n(.*?)\n```\n", text, re.S)
    assert box, f"{key}: no 'Run this chapter' box"
    for command in (f"ttc run {key} --profile smoke", f"ttc run {key} --profile cpu",
                    f"ttc book --profile smoke --only {key}", "make book"):
        assert command in box.group(1), (key, command)
    assert "⟨" not in box.group(1), f"{key}: a time placeholder is left in the run box"
