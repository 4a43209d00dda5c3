"""Content-addressed, atomic on-disk cache for expensive artifacts.

Checkpoints, samples and scores are stored under ``cache_root() / kind / <config hash>``.
Everything is written to a temporary sibling first and renamed into place, so an interrupted
run never leaves a half-written artifact where a later run would read it: either the final
path exists and is complete, or it does not exist and the work is redone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

ENV_VAR = "TTC_CACHE"


def cache_root() -> Path:
    """Root of the cache: ``$TTC_CACHE`` if set, else ``~/.cache/ttc``."""
    root = os.environ.get(ENV_VAR)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "ttc"


def artifact_path(kind: str, key: str) -> Path:
    """Where the artifact of a given kind (``"checkpoints"``, ``"samples"``...) and key lives."""
    return cache_root() / kind / key


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory next to ``path``; rename it onto ``path`` on success.

    If ``path`` appeared meanwhile (another process finished first), the new copy is dropped.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a cache is for every user of the machine
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(tmp)
        else:
            os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table atomically; the format follows the suffix (``.parquet`` or ``.csv``)."""
    path = Path(path)
    with atomic_file(path) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif path.suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            raise ValueError(f"unsupported table format {path.suffix!r}; use .parquet or .csv")
    return path


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_frame`."""
    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
