"""The results store: each chapter's published tables and facts, keyed by what made them.

A chapter's result lives in ``cache_root()/results/<chapter>-<key>/``: one Parquet file per
table, ``facts.json`` (the numbers and sentences its prose quotes), ``artifacts.json`` (the
cached artifacts its computation used: checkpoints, samples, chapter-level caches; what
``ttc cache export`` packs) and ``manifest.json`` (size and sha256 of every file, written
last). The key hashes the chapter's config, the keys
of the upstream results it read and the source of the package's science modules, so a result
is never read under a config or code that did not make it. The folder is written into a
temporary sibling and renamed into place: an interrupted run leaves nothing behind, and a
damaged folder is reported in one line and recomputed, never silently read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ttc.cache import (
    DamagedArtifact,
    artifact_path,
    atomic_dir,
    verify_manifest,
    write_manifest,
)
from ttc.config import config_hash

#: bump to invalidate every stored result (a change of the store's format)
STORE_VERSION = "1"
#: modules that only present or move results: editing them never changes a table
PRESENTATION_MODULES = frozenset({"plots.py", "cli.py", "runner.py", "student.py", "__main__.py",
                                  "bundle.py"})
FACTS = "facts.json"
ARTIFACTS = "artifacts.json"


@dataclass(frozen=True)
class ChapterResult:
    """What a chapter publishes: its tables, the facts its prose quotes, and its key."""

    chapter: str
    config: Any
    tables: dict[str, pd.DataFrame]
    facts: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    #: the cached artifacts (``"kind/name"`` under the cache root) its computation used
    artifacts: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"chapter {self.chapter} has no table {name!r}; it has: "
                           f"{', '.join(self.tables)}") from None


@functools.cache
def code_version() -> str:
    """Hash of the source of the package's science modules (everything but presentation)."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        if path.name in PRESENTATION_MODULES and path.parent == package:
            continue
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def result_key(chapter: str, config: Any, upstream: Mapping[str, str]) -> str:
    """Key of a chapter's result: its config, its upstream results' keys and the code."""
    return config_hash((STORE_VERSION, chapter, config, dict(sorted(upstream.items())),
                        code_version()))


def result_dir(chapter: str, key: str) -> Path:
    return artifact_path("results", f"{chapter}-{key}")


def storable(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A copy Parquet accepts: string column names (a crosstab has integer ones)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"table {name!r} is a {type(frame).__name__}, not a DataFrame")
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    return frame.rename(columns=str)


def _plain(value: Any) -> Any:
    """A fact as JSON: numpy scalars to Python numbers."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def save_result(result: ChapterResult) -> Path:
    """Write a result atomically (tables, facts, then the manifest); return its folder."""
    folder = result_dir(result.chapter, result.key)
    with atomic_dir(folder) as tmp:
        for name, frame in result.tables.items():
            storable(name, frame).to_parquet(tmp / f"{name}.parquet", index=False)
        facts = {k: _plain(v) for k, v in result.facts.items()}
        (tmp / FACTS).write_text(json.dumps(facts, indent=1, sort_keys=True, default=str))
        (tmp / ARTIFACTS).write_text(json.dumps(sorted(result.artifacts), indent=1))
        (tmp / "config.json").write_text(json.dumps({"chapter": result.chapter,
                                                     "config": repr(result.config)}))
        write_manifest(tmp)
    return folder


def load_result(chapter: str, config: Any, key: str) -> ChapterResult | None:
    """The stored result, or None when there is none.

    A damaged or partial folder (a file missing, truncated or altered) raises
    :class:`DamagedArtifact` with a one-line message; see :func:`discard`.
    """
    folder = result_dir(chapter, key)
    if not folder.exists():
        return None
    entries = verify_manifest(folder)
    try:
        tables = {name[: -len(".parquet")]: pd.read_parquet(folder / name)
                  for name in sorted(entries) if name.endswith(".parquet")}
        facts = json.loads((folder / FACTS).read_text())
        artifacts = tuple(json.loads((folder / ARTIFACTS).read_text())
                          if ARTIFACTS in entries else ())
    except Exception as err:  # verified bytes that still do not parse: treat as damaged
        raise DamagedArtifact(f"{folder}: unreadable ({type(err).__name__}: {err})"
                              .replace("\n", " ")) from None
    return ChapterResult(chapter, config, tables, facts, key, artifacts)


def discard(chapter: str, key: str) -> None:
    """Remove a damaged result so it is recomputed."""
    shutil.rmtree(result_dir(chapter, key), ignore_errors=True)


__all__ = ["ChapterResult", "DamagedArtifact", "code_version", "discard", "load_result",
           "result_dir", "result_key", "save_result"]
