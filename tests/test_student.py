"""The student edition: notebooks without exercise solutions, executed and built.

Unit tests cut solutions out of hand-written notebooks; the slow tests build the edition of
the smoke book (``ttc student --profile smoke``, reusing the smoke build's results) and look
for any trace of a solution in its notebooks, executed copies and pages."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

from tests.test_book import page_text
from ttc.chapters import CHAPTERS
from ttc.paths import notebooks_dir
from ttc.student import (
    SOLUTION_TAG,
    SolutionMarkupError,
    _without_pages,
    solutions,
    strip_solutions,
)

NOTEBOOK = """\
# A chapter

Some prose.

## Exercises

```{exercise}
:label: ex-one

What is 6 times 7?
```

```{solution-start} ex-one
:class: dropdown
```

Multiply the two numbers:

```{code-cell} ipython3
:tags: [solution]

6 * 7
```

The answer is forty-two.

```{solution-end}
```

```{exercise}
:label: ex-two

And 2 + 2?
```

```{solution-start} ex-two
```

Four.

```{solution-end}
```

## Summary

```{code-cell} ipython3
summary = 1
```

Done.
"""


def _read(text: str):
    return jupytext.reads(text, fmt="md:myst")


def test_solutions_are_cut_out_and_everything_else_stays():
    notebook = _read(NOTEBOOK)
    student = strip_solutions(notebook)
    text = jupytext.writes(student, fmt="md:myst")
    for gone in ("solution-start", "solution-end", "Multiply the two numbers", "6 * 7",
                 "forty-two", "Four."):
        assert gone not in text, gone
    for kept in ("Some prose.", "What is 6 times 7?", "And 2 + 2?", "## Summary", "Done.",
                 "summary = 1", ":label: ex-two"):
        assert kept in text, kept
    assert [c.source for c in student.cells if c.cell_type == "code"] == ["summary = 1"]
    assert "\n\n\n" not in text  # no gap left where a solution was
    assert "+++" not in text  # nor a cell break: the prose around a solution is one cell again
    assert solutions(notebook) == ["Multiply the two numbers:\n6 * 7\nThe answer is forty-two.",
                                   "Four."]
    assert len(notebook.cells) > len(student.cells)  # the original is not modified


@pytest.mark.parametrize("broken, message", [
    (NOTEBOOK.replace(":tags: [solution]\n", ""), "not tagged 'solution'"),
    (NOTEBOOK.replace("```{code-cell} ipython3\nsummary = 1",
                      "```{code-cell} ipython3\n:tags: [solution]\n\nsummary = 1"),
     "outside a solution"),
    (NOTEBOOK.split("## Summary")[0].replace("Four.\n\n```{solution-end}\n```\n", "Four.\n"),
     "not closed"),
])
def test_tags_and_fences_that_disagree_are_errors(broken, message):
    with pytest.raises(SolutionMarkupError, match=message):
        strip_solutions(_read(broken), "broken")


@pytest.mark.parametrize("key", list(CHAPTERS))
def test_every_chapter_loses_exactly_its_solutions(key):
    notebook = jupytext.read(notebooks_dir() / f"{key}.md")
    student = strip_solutions(notebook, key)
    text = jupytext.writes(student, fmt="md:myst")
    assert "solution-start" not in text and "solution-end" not in text
    assert not [c for c in student.cells if SOLUTION_TAG in c.metadata.get("tags", [])]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    tagged = [c for c in code if SOLUTION_TAG in c.metadata.get("tags", [])]
    assert tagged
    assert [c.source for c in student.cells if c.cell_type == "code"] == \
        [c.source for c in code if c not in tagged]
    assert text.count("```{exercise}") == len(solutions(notebook, key)) >= 1


def test_a_wrong_profile_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from tests.conftest import copy_project
    from ttc import cli

    root = copy_project(tmp_path)
    monkeypatch.setenv("TTC_ROOT", str(root))
    assert cli.main(["student", "--profile", "laptop"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ttc: error:") and len(err.strip().splitlines()) == 1
    assert not (root / "student").exists()


def test_instructor_pages_leave_the_table_of_contents():
    toc = {"root": "intro", "parts": [{"caption": "Using", "chapters": [
        {"file": "running"}, {"file": "instructor"}, {"file": "glossary"}]}]}
    assert _without_pages(toc, ("instructor",)) == {"root": "intro", "parts": [
        {"caption": "Using", "chapters": [{"file": "running"}, {"file": "glossary"}]}]}


def _solution_phrases(key: str) -> list[str]:
    """Lines of the chapter's solutions that survive rendering verbatim: code, and prose
    lines of 30 characters or more without markup."""
    notebook = jupytext.read(notebooks_dir() / f"{key}.md")
    phrases = []
    for solution in solutions(notebook, key):
        for line in solution.splitlines():
            line = line.strip()
            if len(line) >= 30 and not re.search(r"[`${}*\\<>]", line):
                phrases.append(" ".join(line.split()))
    return phrases


@pytest.mark.slow
def test_student_notebooks_hold_no_solution(student_book: Path):
    root = student_book.parents[3]
    for key in CHAPTERS:
        text = (root / "student" / "notebooks" / f"{key}.md").read_text()
        for markup in ("{solution-start}", "{solution-end}", "{solution}", "[solution]"):
            assert markup not in text, (key, markup)
        for phrase in _solution_phrases(key):
            assert phrase not in " ".join(text.split()), (key, phrase)


@pytest.mark.slow
def test_student_notebooks_execute_under_smoke(student_book: Path):
    executed = student_book.parents[1] / "notebooks"
    for key in CHAPTERS:
        notebook = nbformat.read(executed / f"{key}.ipynb", as_version=4)
        assert notebook.metadata["papermill"]["parameters"]["profile"] == "smoke"
        errors = [o for c in notebook.cells if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, key
        assert not [c for c in notebook.cells if SOLUTION_TAG in c.metadata.get("tags", [])]


@pytest.mark.slow
def test_student_pages_show_exercises_without_solutions(student_book: Path, smoke_book: Path):
    checked = 0
    for key in CHAPTERS:
        student = (student_book / "notebooks" / f"{key}.html").read_text()
        instructor = (smoke_book / "notebooks" / f"{key}.html").read_text()
        assert 'class="solution' not in student and "solution-content" not in student, key
        assert 'class="solution' in instructor, key  # the check can see a solution
        assert "Exercise" in page_text(student_book / "notebooks" / f"{key}.html")
        student_text = page_text(student_book / "notebooks" / f"{key}.html")
        instructor_text = page_text(smoke_book / "notebooks" / f"{key}.html")
        for phrase in _solution_phrases(key):
            assert phrase not in student_text, (key, phrase)
            checked += phrase in instructor_text
    assert checked >= 10  # the phrases looked for do appear where solutions are shown
    assert "student edition" in (student_book / "intro.html").read_text()
    assert not (student_book / "instructor.html").exists()
    assert (student_book / "glossary.html").is_file()
