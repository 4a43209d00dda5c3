"""Content-addressed, atomic on-disk cache for expensive artifacts.

Checkpoints, samples and scores are stored under ``cache_root() / kind / <config hash>``.
Everything is written to a temporary sibling first, flushed to disk (``fsync`` of the file and
of its directory) and renamed into place, so an interrupted run never leaves a half-written
artifact where a later run would read it: either the final path exists and is complete, or it
does not exist and the work is redone.

Folders that hold an artifact (checkpoints, sample tables, results) also carry a
``manifest.json`` with the size and sha256 of every file, written last. A reader checks it
(:func:`verify_manifest`); a damaged or partial artifact is reported in one line
(:func:`warn`), moved out of the way (:func:`discard_artifact`) and recomputed.

Every artifact is found through :func:`artifact_path`, so a block of code run inside
:func:`recording_artifacts` learns exactly which artifacts it used; the pipeline stores that
list with each chapter's result, and ``ttc cache export`` packs what a profile needs from it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pandas as pd

ENV_VAR = "TTC_CACHE"


def cache_root() -> Path:
    """Root of the cache: ``$TTC_CACHE`` if set, else ``~/.cache/ttc``."""
    root = os.environ.get(ENV_VAR)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "ttc"


#: the sets that the active :func:`recording_artifacts` blocks fill, innermost last
_RECORDS: list[set[str]] = []


def artifact_path(kind: str, key: str) -> Path:
    """Where the artifact of a given kind (``"checkpoints"``, ``"samples"``...) and key lives.

    Inside :func:`recording_artifacts`, the artifact (``"kind/key"``) is also recorded."""
    for record in _RECORDS:
        record.add(f"{kind}/{key}")
    return cache_root() / kind / key


@contextlib.contextmanager
def recording_artifacts() -> Iterator[set[str]]:
    """Yield a set that collects every artifact (``"kind/key"``, relative to the cache root)
    looked up through :func:`artifact_path` while the block runs, whether it was read or
    written. Blocks may nest; each sees the artifacts of its own extent."""
    record: set[str] = set()
    _RECORDS.append(record)
    try:
        yield record
    finally:
        _RECORDS.pop(next(i for i, r in enumerate(_RECORDS) if r is record))


def relative_to_cache(path: str | Path) -> str:
    """``path`` relative to the cache root when it lies inside it (so a table that records an
    artifact stays valid when the whole cache moves), else the absolute path."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(cache_root().resolve()))
    except ValueError:
        return str(path)


def resolve_cached(path: str | Path) -> Path:
    """Inverse of :func:`relative_to_cache`: an absolute path for a recorded artifact."""
    path = Path(path)
    return path if path.is_absolute() else cache_root() / path


def _fsync(path: Path) -> None:
    """Flush a file or a directory entry to disk (a rename is durable only after this)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # e.g. a file system that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache may be shared by a class
        _fsync(Path(tmp))
        os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory next to ``path``; rename it onto ``path`` on success.

    If ``path`` appeared meanwhile (another process finished first, even between the check
    and the rename), the new copy is dropped.
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
            for item in tmp.rglob("*"):
                if item.is_file():
                    _fsync(item)
            _fsync(tmp)
            try:
                os.rename(tmp, path)
            except OSError:
                if not path.exists():
                    raise
                # another process renamed its (identical) copy in between: keep that one
            _fsync(path.parent)
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


MANIFEST = "manifest.json"


class DamagedArtifact(RuntimeError):
    """A cached artifact is incomplete or its bytes differ from its manifest."""


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: str | Path, names: Iterable[str] | None = None) -> Path:
    """Record the size and sha256 of the files in ``folder`` (default: all of them) in
    ``manifest.json``. Write it last: an artifact without its manifest is not finished."""
    folder = Path(folder)
    names = sorted(names if names is not None else
                   (str(p.relative_to(folder)) for p in folder.rglob("*")
                    if p.is_file() and p.name != MANIFEST))
    entries = {name: {"bytes": (folder / name).stat().st_size,
                      "sha256": file_sha256(folder / name)} for name in names}
    path = folder / MANIFEST
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps({"files": entries}, indent=1, sort_keys=True))
    return path


def verify_manifest(folder: str | Path) -> dict[str, dict]:
    """Check every file of ``folder`` against its manifest; return the manifest's entries.

    Raises :class:`DamagedArtifact` with a one-line message naming the first missing,
    truncated or altered file.
    """
    folder = Path(folder)
    try:
        entries = json.loads((folder / MANIFEST).read_text())["files"]
    except FileNotFoundError:
        raise DamagedArtifact(f"{folder}: no {MANIFEST} (unfinished or damaged)") from None
    except (ValueError, KeyError, TypeError):
        raise DamagedArtifact(f"{folder}: {MANIFEST} is not readable") from None
    if not isinstance(entries, dict) or not all(
            isinstance(e, dict) and isinstance(e.get("bytes"), int)
            and isinstance(e.get("sha256"), str) for e in entries.values()):
        raise DamagedArtifact(f"{folder}: {MANIFEST} is not readable")
    for name, entry in entries.items():
        path = folder / name
        if not path.is_file():
            raise DamagedArtifact(f"{folder}: {name} is missing")
        if path.stat().st_size != entry["bytes"]:
            raise DamagedArtifact(f"{folder}: {name} has {path.stat().st_size} bytes, "
                                  f"expected {entry['bytes']}")
        if file_sha256(path) != entry["sha256"]:
            raise DamagedArtifact(f"{folder}: {name} differs from its manifest (sha256)")
    return entries


def warn(message: str) -> None:
    """Report something on stderr in one line (``[ttc] ...``)."""
    text = " ".join(str(message).split())
    print(f"[ttc] {text}", file=sys.stderr, flush=True)


def discard_artifact(path: str | Path) -> None:
    """Remove an artifact folder (or file) so that it is recomputed.

    It is first renamed to a hidden sibling, so the name is free at once for a process that
    rewrites it, and a concurrent reader sees either the whole old folder or nothing.
    """
    path = Path(path)
    trash = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.trash")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return  # already gone (another process discarded it)
    if trash.is_dir():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink(missing_ok=True)


def adopt_legacy(folder: str | Path, marker: str) -> bool:
    """Give a manifest to an artifact folder written before manifests existed.

    Such a folder was renamed into place only once complete, and ``marker`` (the file the old
    code wrote last, e.g. ``training.json``) marks it finished; its manifest is written now,
    with a one-line note, so an existing cache is not thrown away. Returns whether it adopted
    the folder (a folder with a manifest, or without its marker, is left alone)."""
    folder = Path(folder)
    if (folder / MANIFEST).exists() or not (folder / marker).is_file():
        return False
    warn(f"{folder}: written before manifests; recording its manifest now")
    write_manifest(folder)
    return True


def load_tables(folder: str | Path, names: Sequence[str]) -> dict[str, pd.DataFrame] | None:
    """The tables ``names`` of a finished artifact folder, verified against its manifest.

    None when there is no such folder, or when it is partial or damaged: then it is reported
    in one line and removed, and the caller computes it again. A finished folder written
    before manifests existed (its last table, ``names[-1]``, present) is adopted."""
    folder = Path(folder)
    if not folder.exists():
        return None
    try:
        adopt_legacy(folder, names[-1])
        entries = verify_manifest(folder)
        missing = [name for name in names if name not in entries]
        if missing:
            raise DamagedArtifact(f"{folder}: {missing[0]} is not in its {MANIFEST}")
        try:
            return {name: read_frame(folder / name) for name in names}
        except Exception as err:
            raise DamagedArtifact(f"{folder}: unreadable ({type(err).__name__}: {err})"
                                  .replace("\n", " ")) from None
    except DamagedArtifact as err:
        warn(f"damaged artifact: {err}; computing it again")
        discard_artifact(folder)
        return None


def save_tables(folder: str | Path, tables: Mapping[str, pd.DataFrame]) -> Path:
    """Write tables (name -> frame, the suffix picks the format) into a new artifact folder
    with its manifest, atomically; an existing folder (another process won) is kept."""
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        for name, frame in tables.items():
            write_frame(frame, tmp / name)
        write_manifest(tmp, list(tables))
    return folder


def read_verified_frame(folder: str | Path, name: str, adopt: bool = False) -> pd.DataFrame:
    """Read table ``name`` of an artifact folder after checking the folder's manifest.

    Raises :class:`DamagedArtifact` (one line) when the folder is partial or damaged, or when
    verified bytes still do not parse. ``adopt``: first give a manifest to a finished folder
    written before manifests existed (:func:`adopt_legacy`).
    """
    folder = Path(folder)
    if adopt:  # a kind of folder that existed before manifests did
        adopt_legacy(folder, name)
    entries = verify_manifest(folder)
    if name not in entries:
        raise DamagedArtifact(f"{folder}: {name} is not in its {MANIFEST}")
    try:
        return read_frame(folder / name)
    except Exception as err:
        raise DamagedArtifact(f"{folder}: {name} is unreadable ({type(err).__name__}: {err})"
                              .replace("\n", " ")) from None


def write_verified_frame(frame: pd.DataFrame, folder: str | Path, name: str) -> Path:
    """Write a table into a new artifact folder with its manifest, atomically.

    If the folder already exists (another process wrote it first), it is kept as it is.
    """
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        write_frame(frame, tmp / name)
        write_manifest(tmp, [name])
    return folder
