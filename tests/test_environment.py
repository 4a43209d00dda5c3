"""The pip lock and the conda environment pin the same packages at the same versions."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line).groups()
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_lock_and_environment_agree():
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == lock
    assert "conda-forge" in env["channels"]


def test_lock_pins_the_stack_the_book_needs():
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    assert lock["jupyter-book"] == "1.0.4.post1"  # JB2 cannot build offline
    assert lock["torch"] == "2.13.0"
    for name in ("transformers", "tokenizers", "papermill", "jupytext", "myst-nb",
                 "sphinx-exercise", "sphinxcontrib-bibtex", "seaborn", "pytest", "ruff"):
        assert name in lock, name


def test_tqdm_finds_ipywidgets():
    """tqdm.auto draws widgets in Jupyter, and an executed notebook carries no TqdmWarning
    ("IProgress not found"), only when ipywidgets is installed (it is in the lock)."""
    from tqdm.notebook import IProgress

    assert IProgress is not None
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    assert "ipywidgets" in lock
