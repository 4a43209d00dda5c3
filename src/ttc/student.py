"""The student edition: every chapter notebook without its exercise solutions.

The chapter notebooks (``notebooks/*.md``) stay the only sources. A solution is everything
from a ``{solution-start}`` fence to the fence that closes its ``{solution-end}``: prose,
fenced code, and the code cells between them, which carry the tag ``solution`` so that tools
can find them. The tag and the fences must agree: a code cell inside a solution without the
tag, or a tagged cell outside one, is an error, so neither can be forgotten. ``ttc student``
writes, on every run, into ``student/`` (ignored by git):

- ``student/notebooks/<key>.md``: the notebooks without solutions, to hand out;
- ``student/book/``: a copy of the book's sources whose chapters are those notebooks,
  executed under a profile by the same runner as the book and built with sphinx-exercise's
  ``hide_solutions`` on, without the instructor guide.

``hide_solutions`` alone is not enough for this book: with *gated* solutions
(``solution-start``/``solution-end``) it drops the start node but leaves the solution's
content on the page and the end node in the tree, which the HTML writer cannot render
(executablebooks/sphinx-exercise#89). The student sources therefore contain no solution at
all, and the option stays on as a second guard for any ungated ``{solution}`` block.
"""

from __future__ import annotations

import copy
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ttc.paths import book_dir, notebooks_dir, student_dir

#: the cell tag that marks a code cell as part of an exercise's solution
SOLUTION_TAG = "solution"
#: pages of the book (``_toc.yml`` file names) that the student edition leaves out
INSTRUCTOR_PAGES = ("instructor",)

_START = re.compile(r"^\s*(`{3,}|:{3,})\{solution-start\}")
_END = re.compile(r"^\s*(`{3,}|:{3,})\{solution-end\}")


class SolutionMarkupError(RuntimeError):
    """A notebook's solution fences and ``solution`` tags disagree (``ttc`` reports it in
    one line)."""


def _is_tagged(cell) -> bool:
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def _split(notebook, name: str) -> tuple[list, list[str]]:
    """The cells that stay (solution text cut out of markdown cells, solution code cells
    dropped), and the text of every solution: its markdown lines and code cells, in order."""
    kept_cells: list = []
    solutions: list[str] = []
    inside = False  # from a solution-start fence to the end of its solution-end directive
    opening: str | None = None  # the fence that ends the solution-start directive, while open
    closing: str | None = None  # the fence that ends the solution-end directive, once open
    dropped = False  # a solution code cell was dropped since the last cell kept
    for index, cell in enumerate(notebook.cells):
        where = f"{name}, cell {index}"
        if cell.cell_type == "code":
            if _is_tagged(cell) and not inside:
                raise SolutionMarkupError(
                    f"{where}: code cell tagged {SOLUTION_TAG!r} outside a solution")
            if inside and not _is_tagged(cell):
                raise SolutionMarkupError(
                    f"{where}: code cell inside a solution is not tagged {SOLUTION_TAG!r}")
            if inside:
                solutions[-1] += "\n" + cell.source
                dropped = True
            else:
                kept_cells.append(cell)
                dropped = False
            continue
        if _is_tagged(cell):
            raise SolutionMarkupError(f"{where}: only code cells may be tagged {SOLUTION_TAG!r}")
        kept: list[str] = []
        skip_blank = False  # drop the blank line after a removed solution (no double gap)
        for line in cell.source.splitlines():
            if not inside:
                match = _START.match(line)
                if match:
                    inside, opening = True, match.group(1)
                    solutions.append("")
                    continue
                if skip_blank and not line.strip() and (not kept or not kept[-1].strip()):
                    skip_blank = False
                    continue
                skip_blank = False
                kept.append(line)
            elif opening is not None:  # the solution-start directive's options
                if line.strip() == opening:
                    opening = None
            elif closing is None:
                match = _END.match(line)
                if match:
                    closing = match.group(1)
                elif _START.match(line):
                    raise SolutionMarkupError(f"{where}: a solution starts inside a solution")
                else:
                    solutions[-1] += "\n" + line
            elif line.strip() == closing:
                inside, closing, skip_blank = False, None, True
        text = "\n".join(kept).strip("\n")
        if not text.strip():
            continue
        if dropped and kept_cells and kept_cells[-1].cell_type == "markdown":
            # only a solution's code stood between the two: one markdown cell, as in the source
            kept_cells[-1].source = kept_cells[-1].source.rstrip("\n") + "\n\n" + text
            continue
        stripped = copy.deepcopy(cell)
        stripped.source = text
        kept_cells.append(stripped)
        dropped = False
    if inside:
        raise SolutionMarkupError(f"{name}: a solution is not closed by a solution-end")
    return kept_cells, [text.strip() for text in solutions]


def strip_solutions(notebook, name: str = "notebook"):
    """A copy of ``notebook`` (nbformat, as jupytext reads a MyST notebook) without its
    exercise solutions: their prose and fenced code, and their code cells."""
    cells, _ = _split(notebook, name)
    stripped = copy.deepcopy(notebook)
    stripped.cells = cells
    return stripped


def solutions(notebook, name: str = "notebook") -> list[str]:
    """The text of every solution in ``notebook``, in order (what the student edition must
    not contain)."""
    return _split(notebook, name)[1]


def student_notebooks_dir() -> Path:
    return student_dir() / "notebooks"


def student_book_dir() -> Path:
    return student_dir() / "book"


def write_student_notebooks(keys: Iterable[str] | None = None,
                            dest: Path | None = None) -> list[Path]:
    """Write ``<dest>/<key>.md`` (default ``student/notebooks/``) for every chapter (or
    ``keys``): the chapter's notebook without its solutions, in the same MyST format."""
    import jupytext

    from ttc.chapters import CHAPTERS

    dest = Path(dest or student_notebooks_dir())
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for key in keys or CHAPTERS:
        notebook = jupytext.read(notebooks_dir() / f"{key}.md")
        path = dest / f"{key}.md"
        text = jupytext.writes(strip_solutions(notebook, key), fmt="md:myst")
        if not path.is_file() or path.read_text() != text:  # unchanged: keep its mtime
            path.write_text(text)
        written.append(path)
    return written


def _without_pages(toc: Any, pages: tuple[str, ...]) -> Any:
    """``toc`` (a parsed ``_toc.yml``) with every entry whose ``file`` is in ``pages``
    removed, at any depth."""
    if isinstance(toc, list):
        return [_without_pages(item, pages) for item in toc
                if not (isinstance(item, dict) and item.get("file") in pages)]
    if isinstance(toc, dict):
        return {key: _without_pages(value, pages) for key, value in toc.items()}
    return toc


_GENERATED = "# Generated by `ttc student` from book/{name}; edit that file, not this one.\n"


def prepare_book(dest: Path | None = None) -> Path:
    """Copy the book's sources to ``dest`` (default ``student/book/``) for the student
    edition: no instructor pages, "(student edition)" in the title, ``hide_solutions`` on.
    Executed notebooks already in ``dest/notebooks`` are kept (the runner reuses current
    ones)."""
    source, dest = book_dir(), Path(dest or student_book_dir())
    shutil.copytree(source, dest, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("_build", "notebooks", "mathjax", "*.ipynb"))
    (dest / "notebooks").mkdir(exist_ok=True)
    for page in INSTRUCTOR_PAGES:
        (dest / f"{page}.md").unlink(missing_ok=True)
    toc = _without_pages(yaml.safe_load((source / "_toc.yml").read_text()), INSTRUCTOR_PAGES)
    config = yaml.safe_load((source / "_config.yml").read_text())
    config["title"] = f"{config['title']} (student edition)"
    config.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
    for name, data in (("_toc.yml", toc), ("_config.yml", config)):
        text = _GENERATED.format(name=name) + yaml.safe_dump(data, sort_keys=False,
                                                              allow_unicode=True)
        if not (dest / name).is_file() or (dest / name).read_text() != text:
            (dest / name).write_text(text)
    return dest


def build_student(profile: str, html: bool = True, strict: bool = True,
                  force: bool = False) -> Path:
    """Write the student notebooks, execute them under ``profile`` into the student book and
    (``html``) build it; return its ``index.html`` (or the notebooks' folder)."""
    from ttc.profiles import load_profile
    from ttc.runner import build_html, execute_all

    load_profile(profile)  # a wrong profile stops here, before anything is written
    start = time.perf_counter()
    notebooks = write_student_notebooks()
    print(f"[ttc] student notebooks: {len(notebooks)} in {student_notebooks_dir()}", flush=True)
    book = prepare_book()
    execute_all(profile, force=force, source_dir=student_notebooks_dir(),
                out_dir=book / "notebooks")
    if not html:
        print(f"[ttc] student edition done in {time.perf_counter() - start:.1f} s")
        return student_notebooks_dir()
    print("[ttc] building the student book's HTML ...", flush=True)
    index = build_html(strict=strict, book=book)
    print(f"[ttc] student edition done in {time.perf_counter() - start:.1f} s")
    return index


def cli_command(args) -> int:
    """``ttc student``: see :func:`build_student`."""
    result = build_student(args.profile, html=not args.no_html, strict=not args.no_strict,
                           force=args.force)
    print(f"[ttc] student edition: {result}")
    return 0
