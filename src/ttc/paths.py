"""Where the project's files are: the repository root, notebooks, profiles and the book."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The repository root: ``$TTC_ROOT``, else the checkout this package was installed from
    (editable install), else the current directory or its nearest parent with ``notebooks/``.
    """
    if os.environ.get("TTC_ROOT"):
        return Path(os.environ["TTC_ROOT"]).resolve()
    here = Path(__file__).resolve().parents[2]
    if (here / "notebooks").is_dir() and (here / "data" / "profiles").is_dir():
        return here
    for candidate in (Path.cwd(), *Path.cwd().parents):
        if (candidate / "notebooks").is_dir() and (candidate / "data" / "profiles").is_dir():
            return candidate
    raise FileNotFoundError(
        "cannot find the project root (a folder with notebooks/ and data/profiles/); "
        "run from the checkout or set TTC_ROOT"
    )


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def profiles_dir() -> Path:
    return project_root() / "data" / "profiles"


def book_dir() -> Path:
    return project_root() / "book"


def executed_dir() -> Path:
    """Where papermill writes executed notebooks (inside the book, ignored by git)."""
    return book_dir() / "notebooks"


def student_dir() -> Path:
    """Where ``ttc student`` writes the student edition (generated on every run, ignored by
    git): ``notebooks/`` without solutions, and ``book/``, the student book's sources."""
    return project_root() / "student"
