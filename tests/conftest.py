"""Shared fixtures: a smoke-profile build of the whole book in a scratch copy of the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def benchmark_module(name: str):
    """The script ``benchmarks/<name>.py`` imported as module ``name``, for a module-scoped
    fixture to yield (registered in ``sys.modules`` while in use: a dataclass in it looks
    its module up); the caller's ``finally`` removes it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def copy_project(dest: Path) -> Path:
    """Copy what a book build reads (book sources, notebooks, profiles) into ``dest``."""
    for name in ("book", "notebooks", "data"):
        shutil.copytree(ROOT / name, dest / name,
                        ignore=shutil.ignore_patterns("_build", "notebooks", "*.ipynb"))
    if (ROOT / "book").exists():
        (dest / "book" / "notebooks").mkdir(exist_ok=True)
    return dest


class BuiltBook(type(Path())):
    """The HTML folder of a built book, with how it was built: ``offline`` is True when the
    build ran in a network namespace with no interface but loopback (``offline_reason`` says
    why not otherwise)."""

    offline: bool = False
    offline_reason: str = ""


#: bring up loopback only (Jupyter kernels talk to papermill over 127.0.0.1), then run
_OFFLINE = ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def offline_prefix() -> tuple[list[str], str]:
    """The command prefix that runs a command with no network, or ``([], reason)`` when this
    machine cannot make an unprivileged network namespace."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return [], "unshare or ip is not installed"
    try:
        probe = subprocess.run([*_OFFLINE, "true"], capture_output=True, text=True,
                               timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return [], f"unshare -rn failed: {err}"
    if probe.returncode != 0:
        reason = " ".join(probe.stderr.split()) or f"exit status {probe.returncode}"
        return [], f"unshare -rn is not available here ({reason})"
    return _OFFLINE, ""


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> BuiltBook:
    """Execute every notebook under the smoke profile and build the book with -W -n.

    Runs in a scratch copy (TTC_ROOT) so a reader's own ``book/_build`` is never overwritten,
    and, where the machine allows it, inside a network namespace with no interface but
    loopback (``unshare -rn``), so a build that reached for the network would fail.
    Returns the HTML folder; its ``offline`` attribute says whether the build ran offline.
    """
    root = copy_project(tmp_path_factory.mktemp("project"))
    env = {**os.environ, "TTC_ROOT": str(root)}
    prefix, reason = offline_prefix()
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "ttc", "book", "--profile", "smoke"],
        env=env, capture_output=True, text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"smoke book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    html = BuiltBook(root / "book" / "_build" / "html")
    assert (html / "index.html").is_file()
    html.offline, html.offline_reason = bool(prefix), reason
    return html


@pytest.fixture
def tiny_base(tmp_path, monkeypatch):
    """A random-init f32x2 member saved as a checkpoint, and a scratch model cache.

    Yields ``(checkpoint folder, cache folder)``. A model this small trains fastest on one
    thread: with several, a busy machine makes them wait on each other (0.3 s against
    10-20 s on 2 loaded cores).
    """
    import torch
    from transformers import LlamaForCausalLM

    from ttc.family.specs import get_spec
    from ttc.tokenizer import build_tokenizer

    cache = tmp_path / "cache"
    monkeypatch.setenv("TTC_CACHE", str(cache))
    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(get_spec("f32x2").llama_config(len(tokenizer), 256))
    base = tmp_path / "f32x2-tiny"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield base, cache
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def student_book(smoke_book: BuiltBook) -> BuiltBook:
    """The student edition of the smoke book (``ttc student --profile smoke``), built in the
    same scratch project, so every chapter's result comes from the smoke build's store and
    only the student notebooks execute. Returns the student book's HTML folder."""
    root = smoke_book.parents[2]
    prefix, reason = offline_prefix()
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "ttc", "student", "--profile", "smoke"],
        env={**os.environ, "TTC_ROOT": str(root)}, capture_output=True, text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"student build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    html = BuiltBook(root / "student" / "book" / "_build" / "html")
    assert (html / "index.html").is_file()
    html.offline, html.offline_reason = bool(prefix), reason
    return html
