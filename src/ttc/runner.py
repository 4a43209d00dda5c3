"""Execute the notebooks with papermill under a profile and build the book with Jupyter Book.

Notebooks are MyST markdown (jupytext); each is converted to ``.ipynb``, executed by papermill
(which injects the profile's parameters, and the profile's name as ``profile``, after the
``parameters`` cell) into ``book/notebooks/``, and Jupyter Book renders the executed copies
with execution turned off.

An executed copy records a *build key*: the hash of the notebook's source, its parameters, the
key of the chapter result it shows and the package's presentation code. When nothing of that
changed, the copy is current and the notebook is not executed again, so a warm rebuild only
renders HTML (and Sphinx re-reads only the pages whose copy changed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ttc.chapters import CHAPTERS, get_chapter
from ttc.config import config_hash
from ttc.paths import book_dir, executed_dir, notebooks_dir
from ttc.profiles import load_profile, profile_path

KERNEL_NAME = "ttc"


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook, the cell and the error."""


def _kernel_name() -> str:
    from jupyter_client.kernelspec import find_kernel_specs

    return KERNEL_NAME if KERNEL_NAME in find_kernel_specs() else "python3"


def build_key(key: str, parameters: dict[str, Any], profile: str,
              source_dir: Path | None = None) -> str:
    """What an executed copy of notebook ``key`` depends on: its source (in ``source_dir``,
    default ``notebooks/``), its parameters, the profile's file, the key of the chapter result
    it shows, and the presentation code."""
    from ttc.pipeline import store_key

    package = Path(__file__).resolve().parent
    presentation = [(name, (package / name).read_text()) for name in ("plots.py",)]
    return config_hash((
        (Path(source_dir or notebooks_dir()) / f"{key}.md").read_text(), dict(parameters),
        profile_path(profile).read_text(), store_key(key, profile, parameters), presentation,
    ))


def is_current(output: Path, key: str) -> bool:
    """Whether an executed copy exists and was made with build key ``key``."""
    import nbformat

    if not output.is_file():
        return False
    try:
        notebook = nbformat.read(output, as_version=4)
    except Exception:  # a damaged copy is simply rebuilt
        return False
    return notebook.metadata.get("ttc", {}).get("build_key") == key


def label_injected_parameters(notebook, profile: str) -> None:
    """Head the cell papermill injects (tag ``injected-parameters``, first line
    ``# Parameters``) with what it is, so that a reader of the rendered chapter does not take
    the defaults cell above it for the values this build ran with."""
    for cell in notebook.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            lines = cell.source.split("\n")
            if lines and lines[0].strip() == "# Parameters":
                lines[0] = (f"# Parameters of this build (profile {profile}), replacing the "
                            "defaults above")
                cell.source = "\n".join(lines)


def execute_notebook(key: str, parameters: dict[str, Any], out_dir: Path | None = None,
                     profile: str | None = None, build: str | None = None,
                     source_dir: Path | None = None) -> Path:
    """Execute ``<source_dir>/<key>.md`` (default ``notebooks/``) with ``parameters`` (and the
    build's ``profile``, which decides the upstream chapters' settings); return the executed
    ``.ipynb``. It runs in ``notebooks/`` whatever the source folder."""
    import jupytext
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = Path(source_dir or notebooks_dir()) / f"{key}.md"
    out_dir = Path(out_dir or executed_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{key}.ipynb"
    if profile is not None:
        parameters = {**parameters, "profile": str(profile)}
    notebook = jupytext.read(source)
    if build is not None:
        notebook.metadata["ttc"] = {"build_key": build}
    kernel = _kernel_name()
    notebook.metadata["kernelspec"] = {"name": kernel, "display_name": "Python (ttc)",
                                       "language": "python"}
    staged = out_dir / f".{key}.input.ipynb"
    executed = out_dir / f".{key}.output.ipynb"
    nbformat.write(notebook, staged)
    try:
        papermill.execute_notebook(
            str(staged), str(executed), parameters=parameters, kernel_name=kernel,
            cwd=str(notebooks_dir()), progress_bar=sys.stderr.isatty(), log_output=False,
        )
        if profile is not None:
            done = nbformat.read(executed, as_version=4)
            label_injected_parameters(done, Path(str(profile)).stem)
            nbformat.write(done, executed)
        executed.replace(output)  # the copy is current only once it ran to the end
    except PapermillExecutionError as err:
        source_lines = "\n    ".join(err.source.splitlines()[:12])
        raise NotebookFailed(
            f"notebook {key} failed in cell [{err.exec_count}]: {err.ename}: {err.evalue}\n"
            f"  cell source:\n    {source_lines}\n  executed copy with the traceback: "
            f"{executed}"
        ) from None
    finally:
        staged.unlink(missing_ok=True)
    return output


def execute_all(profile: str, only: Iterable[str] | None = None, force: bool = False,
                source_dir: Path | None = None, out_dir: Path | None = None) -> dict[str, float]:
    """Execute every chapter (or ``only`` those) under a profile; return seconds per notebook
    (computing its result plus executing it).

    Sources come from ``source_dir`` (default ``notebooks/``), executed copies go to
    ``out_dir`` (default ``book/notebooks/``); the student edition passes its own folders.
    A notebook whose executed copy is current (same build key) is skipped unless ``force``.
    Each chapter's result is computed in this process first (with progress bars on the
    terminal), so the notebook only loads it. A notebook executes in the background while
    the next chapter's result is computed (one notebook at a time, in order): its kernel
    mostly starts, loads and plots, which overlaps with the next chapter's arithmetic instead
    of adding to it. The first notebook that fails stops the build.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    params = load_profile(profile)
    if Path(str(profile)).suffix in (".yaml", ".yml"):
        profile = str(Path(profile).resolve())  # notebooks run in notebooks/
    keys = [get_chapter(k).key for k in only] if only else list(CHAPTERS)
    timings: dict[str, float] = {}
    running: list[tuple[str, Future]] = []

    def execute(key: str, build: str, computed: float) -> None:
        start = time.perf_counter()
        execute_notebook(key, params[key], out_dir=out_dir, profile=profile, build=build,
                         source_dir=source_dir)
        seconds = time.perf_counter() - start
        timings[key] = computed + seconds
        print(f"[ttc]   {key}: {timings[key]:.1f} s (result {computed:.1f} s, notebook "
              f"{seconds:.1f} s)", flush=True)

    def raise_failed() -> None:
        for _, future in running:
            if future.done() and future.exception() is not None:
                raise future.exception()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="notebook") as notebooks:
        try:
            for key in keys:
                raise_failed()
                start = time.perf_counter()
                if params[key] is False:  # off under this profile (llm: family-only chapters)
                    print(f"[ttc] {key}: off under profile {Path(profile).stem}; skipped",
                          flush=True)
                    continue
                build = build_key(key, params[key], profile, source_dir)
                if not force and is_current(Path(out_dir or executed_dir()) / f"{key}.ipynb",
                                            build):
                    print(f"[ttc] {key}: executed copy is current (profile "
                          f"{Path(profile).stem})", flush=True)
                    timings[key] = time.perf_counter() - start
                    continue
                # compute (or load) the chapter's result here, where progress bars reach the
                # terminal; the notebook then loads it from the results store
                from ttc.pipeline import chapter_result

                chapter_result(key, profile, progress=True, quiet=True)
                computed = time.perf_counter() - start
                print(f"[ttc] executing {key} (profile {Path(profile).stem}) ...", flush=True)
                running.append((key, notebooks.submit(execute, key, build, computed)))
            for _, future in running:
                future.result()  # wait, and raise the first failure in chapter order
        except BaseException:
            for _, future in running:
                future.cancel()  # a notebook not started yet never starts
            raise
    return {key: timings[key] for key in keys if key in timings}


def vendor_mathjax(book: Path | None = None) -> Path:
    """Copy MathJax 3 (from the ``django-static-mathjax`` wheel) into ``book/_static`` (or
    the ``_static`` of another book folder).

    Sphinx loads MathJax from a CDN by default, which fails offline and leaves raw TeX on the
    page; the book points ``mathjax_path`` at this local copy instead (ignored by git).
    """
    import importlib.util
    import shutil

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax not installed: pip install django-static-mathjax")
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    dest = Path(book or book_dir()) / "_static" / "mathjax"
    fonts = Path("output") / "chtml" / "fonts" / "woff-v2"
    if not (dest / "tex-mml-chtml.js").is_file():
        (dest / fonts).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(es5 / "tex-mml-chtml.js", dest / "tex-mml-chtml.js")
        shutil.copytree(es5 / fonts, dest / fonts, dirs_exist_ok=True)
    return dest


_SCRIPT_TAG = re.compile(r"<script\b[^>]*>.*?</script>", re.S)
_SCRIPT_SRC = re.compile(r'\bsrc="([^"?]+)')


def _dedupe_scripts(text: str) -> tuple[str, int]:
    """``text`` without ``<script>`` tags already seen in it, and how many were dropped."""
    kept: list[str] = []
    seen_tags: set[str] = set()
    seen_srcs: set[str] = set()
    dropped = 0
    last = 0
    for match in _SCRIPT_TAG.finditer(text):
        tag = match.group(0)
        src = _SCRIPT_SRC.search(tag.split(">", 1)[0])
        key = src.group(1) if src else None
        kept.append(text[last:match.start()])
        last = match.end()
        if tag in seen_tags or (key is not None and key in seen_srcs):
            dropped += 1
            continue
        kept.append(tag)
        seen_tags.add(tag)
        if key is not None:
            seen_srcs.add(key)
    kept.append(text[last:])
    return "".join(kept), dropped


def drop_duplicate_scripts(html_dir: Path) -> int:
    """Remove ``<script>`` tags that a page already loaded; return how many were dropped.

    With the pinned Jupyter Book 1 stack, some extensions' scripts land twice in every page
    (sphinx-thebe's inline config and the MathJax loader), and the second copy throws in the
    browser ("Identifier 'THEBE_JS_URL' has already been declared"; MathJax's "Cannot set
    property Package"). A tag is dropped when it is identical to an earlier one, or when it
    loads a ``src`` that an earlier tag already loads.
    """
    total = 0
    for page in html_dir.rglob("*.html"):
        text, dropped = _dedupe_scripts(page.read_text(encoding="utf-8"))
        if dropped:
            page.write_text(text, encoding="utf-8")
            total += dropped
    return total


def add_root_favicon(html_dir: Path) -> None:
    """Copy the book's icon to ``/favicon.ico``: a browser asks for it on pages that declare
    no icon (Jupyter Book's ``index.html`` redirect), and the 404 shows as a console error."""
    icon = html_dir / "_static" / "favicon.png"
    if icon.is_file():
        shutil.copyfile(icon, html_dir / "favicon.ico")


def build_html(strict: bool = True, book: Path | None = None) -> Path:
    """Render the executed notebooks and prose pages of ``book`` (default ``book/``) to HTML;
    return ``index.html``."""
    book = Path(book or book_dir())
    vendor_mathjax(book)
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
           "build", str(book), "--builder", "html"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise RuntimeError(f"jupyter-book build failed (exit {result.returncode}):\n{tail}")
    index = book / "_build" / "html" / "index.html"
    drop_duplicate_scripts(index.parent)
    add_root_favicon(index.parent)
    if not index.is_file():
        raise RuntimeError(f"jupyter-book reported success but wrote no {index}")
    return index


def build_book(profile: str, strict: bool = True, only: Iterable[str] | None = None,
               force: bool = False) -> Path:
    """Execute all notebooks (or ``only`` those) under ``profile`` and build the HTML book."""
    total = time.perf_counter()
    timings = execute_all(profile, only, force=force)
    start = time.perf_counter()
    print("[ttc] building HTML with Jupyter Book ...", flush=True)
    index = build_html(strict=strict)
    print(f"[ttc]   HTML: {time.perf_counter() - start:.1f} s", flush=True)
    print("[ttc] notebook run times (profile " + profile + "):")
    for key, seconds in timings.items():
        print(f"[ttc]   {key:<24} {seconds:7.1f} s")
    print(f"[ttc]   {'total (with HTML)':<24} {time.perf_counter() - total:7.1f} s")
    return index
