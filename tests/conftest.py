"""Shared fixtures: a smoke-profile build of the whole book in a scratch copy of the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def copy_project(dest: Path) -> Path:
    """Copy what a book build reads (book sources, notebooks, profiles) into ``dest``."""
    for name in ("book", "notebooks", "data"):
        shutil.copytree(ROOT / name, dest / name,
                        ignore=shutil.ignore_patterns("_build", "notebooks", "*.ipynb"))
    if (ROOT / "book").exists():
        (dest / "book" / "notebooks").mkdir(exist_ok=True)
    return dest


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> Path:
    """Execute every notebook under the smoke profile and build the book with -W -n.

    Runs in a scratch copy (TTC_ROOT) so a reader's own ``book/_build`` is never overwritten.
    Returns the HTML folder.
    """
    root = copy_project(tmp_path_factory.mktemp("project"))
    env = {**os.environ, "TTC_ROOT": str(root)}
    result = subprocess.run(
        [sys.executable, "-m", "ttc", "book", "--profile", "smoke"],
        env=env, capture_output=True, text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"smoke book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    html = root / "book" / "_build" / "html"
    assert (html / "index.html").is_file()
    return html
