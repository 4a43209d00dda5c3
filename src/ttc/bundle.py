"""Cache bundles: one archive with everything a profile needs, to hand to a class.

``export_bundle("workshop", "ttc-cache-workshop.tar.gz")`` packs, for every chapter of the
profile, its stored result (:mod:`ttc.results`, under the key the pipeline computes for the
profile as it stands) and every cached artifact that result's computation used: the family's
checkpoints, the sample tables, the chapter-level caches (greedy answers, verifier labels,
scores, searches, revision chains) and the fine-tuned verifiers and reviser. The pipeline
records those artifacts with each result as it computes it (``artifacts.json``, from
:func:`ttc.cache.recording_artifacts`), so the bundle holds exactly what the profile used and
nothing else of the cache. With it, every chapter loads without training or sampling, and a
chapter run again with other parameters of its own finds the models and samples it reads.

The archive (tar, gzip-compressed when the name ends in ``.gz`` or ``.tgz``) starts with
``ttc-bundle.json``: the profile (its name and YAML text), the ``ttc`` version, the code
version that keys the results, and the size and sha256 of every file; the files follow under
``cache/<kind>/<name>/``. :func:`import_bundle` reads the whole archive into a hidden staging
folder inside the cache and checks every file against that manifest (and every artifact against
its own manifest) before anything lands in the cache; only then is each artifact moved in
atomically. An artifact already in the cache and intact is left alone. A truncated or altered
archive, or a member that is a link or whose path leaves the cache, is refused with a one-line
:class:`BundleError` and leaves the cache as it was.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from ttc.cache import (
    MANIFEST,
    DamagedArtifact,
    atomic_dir,
    atomic_file,
    cache_root,
    discard_artifact,
    file_sha256,
    verify_manifest,
)

#: the archive's first member: what it holds and the size and sha256 of every file
BUNDLE_MANIFEST = "ttc-bundle.json"
#: the folder of the archive under which the cache's files are
PREFIX = "cache"
FORMAT = "ttc-cache-bundle"
FORMAT_VERSION = 1
#: the largest manifest read (a manifest lists file names and hashes: megabytes at most)
MAX_MANIFEST_BYTES = 64 << 20
#: a staging folder untouched this long was left by an import that was killed
STALE_STAGING_SECONDS = 24 * 3600


class BundleError(RuntimeError):
    """An archive cannot be made or is refused; the message is one line."""


@dataclass(frozen=True)
class BundleSummary:
    """What an export wrote or an import did."""

    path: Path
    profile: str
    #: artifact folders in the archive (results included)
    artifacts: int
    files: int
    bytes: int
    #: import only: artifacts moved into the cache, and those already there and intact
    added: int = 0
    kept: int = 0
    #: import only: chapters whose result in the cache matches this checkout's profile of the
    #: same name (None when there is no such profile here)
    current_results: int | None = None
    #: the code version that keyed the archive's results (``ttc.results.code_version``)
    code_version: str = ""

    @property
    def megabytes(self) -> float:
        return self.bytes / 1e6


def default_archive_name(profile: str | Path) -> str:
    return f"ttc-cache-{Path(str(profile)).stem}.tar.gz"


def _compression(path: Path) -> str:
    return "gz" if path.name.endswith((".gz", ".tgz")) else ""


# -- export -----------------------------------------------------------------------------------

def profile_artifacts(profile: str | Path) -> tuple[dict[str, str], list[str]]:
    """The cache entries ``profile`` uses, all present and intact: ``(results, artifacts)``.

    ``results`` maps every chapter to its stored result (``"results/<chapter>-<key>"``);
    ``artifacts`` lists every artifact those results were computed from, results included,
    sorted. Raises :class:`BundleError` when a result is not stored (the profile was not
    built), records no artifacts (computed by an older ttc), or an artifact is missing or
    damaged.
    """
    from ttc.pipeline import profile_keys
    from ttc.results import ARTIFACTS, result_dir

    root = cache_root()
    name = Path(str(profile)).stem
    results: dict[str, str] = {}
    used: dict[str, str] = {}  # artifact -> the first chapter that used it
    for chapter, key in profile_keys(profile).items():
        folder = result_dir(chapter, key)
        entry = folder.relative_to(root).as_posix()
        if not folder.is_dir():
            raise BundleError(f"profile {name}: no stored result for {chapter} in {root}; "
                              f"build the profile first (ttc book --profile {profile})")
        try:
            entries = verify_manifest(folder)
        except DamagedArtifact as err:
            raise BundleError(f"damaged result: {err}; rebuild it "
                              f"(ttc run {chapter} --profile {profile} --recompute)") from None
        if ARTIFACTS not in entries:
            raise BundleError(f"{entry}: computed before results recorded their artifacts; "
                              f"rebuild it (ttc run {chapter} --profile {profile} --recompute)")
        recorded = json.loads((folder / ARTIFACTS).read_text())
        if not isinstance(recorded, list) or not all(isinstance(a, str) for a in recorded):
            raise BundleError(f"{entry}/{ARTIFACTS} is not a list of artifacts; rebuild it "
                              f"(ttc run {chapter} --profile {profile} --recompute)")
        results[chapter] = entry
        for artifact in [entry, *recorded]:
            used.setdefault(artifact, chapter)
    for entry, chapter in sorted(used.items()):
        _check_entry(entry)
        folder = root / entry
        rebuild = f"rebuild it (ttc run {chapter} --profile {profile} --recompute)"
        if not folder.is_dir():
            raise BundleError(f"{folder} is gone from the cache, but profile {name} uses it; "
                              f"{rebuild}")
        try:
            verify_manifest(folder)
        except DamagedArtifact as err:
            raise BundleError(f"damaged artifact: {err}; {rebuild}") from None
    return results, sorted(used)


def _check_entry(entry: str) -> None:
    """An artifact is ``kind/name``: two plain path components."""
    parts = PurePosixPath(entry).parts
    if len(parts) != 2 or any(p in ("", ".", "..") or p.startswith(".") for p in parts) \
            or "\\" in entry or PurePosixPath(entry).is_absolute():
        raise BundleError(f"{entry!r} is not an artifact of the cache (kind/name)")


def _artifact_files(root: Path, entry: str) -> list[str]:
    """Every file of an artifact folder, relative to the cache root, sorted."""
    files = []
    for path in sorted((root / entry).rglob("*")):
        if path.is_symlink():
            raise BundleError(f"{path} is a link; a cache artifact holds plain files only")
        if path.is_file():
            files.append(path.relative_to(root).as_posix())
    return files


def export_bundle(profile: str | Path, output: str | Path | None = None,
                  progress: bool = False) -> BundleSummary:
    """Write one archive of the cache entries ``profile`` uses (see the module docstring).

    The archive is written atomically: a failed or interrupted export leaves no file under
    ``output``'s name.
    """
    from ttc import __version__
    from ttc.profiles import profile_path
    from ttc.results import code_version

    root = cache_root()
    name = Path(str(profile)).stem
    output = Path(output or default_archive_name(profile))
    results, artifacts = profile_artifacts(profile)
    files: dict[str, dict] = {}
    for entry in artifacts:
        for rel in _artifact_files(root, entry):
            files[rel] = {"bytes": (root / rel).stat().st_size,
                          "sha256": file_sha256(root / rel)}
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "profile": name, "profile_yaml": profile_path(profile).read_text(),
        "ttc_version": __version__, "code_version": code_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results, "artifacts": artifacts, "files": files,
    }
    data = json.dumps(manifest, indent=1, sort_keys=True).encode()
    total = sum(f["bytes"] for f in files.values())
    now = int(time.time())
    bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"export {name}",
               disable=not progress, leave=False)
    try:
        with atomic_file(output) as tmp, tarfile.open(tmp, f"w:{_compression(output)}",
                                                      format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(_member(BUNDLE_MANIFEST, len(data), now), _BytesReader(data))
            for rel, entry in files.items():
                with open(root / rel, "rb") as handle:
                    tar.addfile(_member(f"{PREFIX}/{rel}", entry["bytes"], now), handle)
                bar.update(entry["bytes"])
    except OSError as err:  # a full disk, a folder that cannot be written
        raise BundleError(f"cannot write {output}: {err}".replace("\n", " ")) from None
    finally:
        bar.close()
    return BundleSummary(output, name, len(artifacts), len(files), total,
                         code_version=manifest["code_version"])


def _member(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    return info


class _BytesReader:
    """A bytes object read like a file (``tarfile.addfile`` reads its data so)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        chunk = self._data[self._pos:end]
        self._pos += len(chunk)
        return chunk


# -- import -----------------------------------------------------------------------------------

#: what a damaged archive raises while it is read: a bad header, a truncated stream, a bad
#: gzip CRC or length
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def import_bundle(archive: str | Path, progress: bool = False) -> BundleSummary:
    """Verify an archive made by :func:`export_bundle` and move its artifacts into the cache.

    Every file is checked against the archive's manifest, and every artifact against its own,
    in a staging folder before anything lands in the cache; then each artifact is moved in
    atomically, except those already in the cache and intact. Raises :class:`BundleError`
    (one line) for a missing, truncated or altered archive and for a member that is not a
    plain file under ``cache/<kind>/<name>/`` (a link, an absolute path, ``..``).
    """
    archive = Path(archive)
    if not archive.is_file():
        raise BundleError(f"{archive}: no such archive")
    root = cache_root()
    created_root = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(root)
        staging = Path(tempfile.mkdtemp(prefix=".import-", suffix=".tmp", dir=root))
    except OSError as err:
        raise BundleError(f"cannot import into {root}: {err}".replace("\n", " ")) from None
    try:
        manifest = _extract_verified(archive, staging, progress)
        try:
            added, kept = _move_in(manifest["artifacts"], staging, root)
        except OSError as err:  # each artifact lands whole or not at all, even so
            raise BundleError(f"cannot move the artifacts into {root}: {err}"
                              .replace("\n", " ")) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created_root:
            with contextlib.suppress(OSError):
                root.rmdir()  # only when nothing landed (a refused archive)
    files = manifest["files"]
    return BundleSummary(archive, manifest["profile"], len(manifest["artifacts"]), len(files),
                         sum(f["bytes"] for f in files.values()), added, kept,
                         _current_results(manifest["profile"]),
                         str(manifest.get("code_version", "")))


def _remove_stale_staging(root: Path) -> None:
    """Remove the staging folders of killed imports (a running import's is recent)."""
    now = time.time()
    for folder in root.glob(".import-*.tmp"):
        with contextlib.suppress(OSError):
            if now - folder.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)


def _extract_verified(archive: Path, staging: Path, progress: bool) -> dict:
    """Read the archive into ``staging/<kind>/<name>/...``, checking every member; return the
    manifest once every file matches it."""
    label = archive.name
    try:
        with open(archive, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
            with tarfile.open(fileobj=stream, mode="r:") as tar:
                manifest, seen = _extract_members(tar, staging, label, progress)
                _check_end(tar, stream, gz, label)
    except BundleError:
        raise
    except _READ_ERRORS as err:
        raise BundleError(f"{label}: damaged or truncated archive ({type(err).__name__}: "
                          f"{err})".replace("\n", " ")) from None
    except OSError as err:  # the staging folder: a full disk, a permission
        raise BundleError(f"cannot import {label}: {err}".replace("\n", " ")) from None
    missing = sorted(set(manifest["files"]) - seen)
    if missing:
        raise BundleError(f"{label}: truncated or incomplete archive: {len(missing)} file(s) "
                          f"of its manifest are missing, e.g. {PREFIX}/{missing[0]}")
    for entry in manifest["artifacts"]:
        try:
            verify_manifest(staging / entry)
        except DamagedArtifact as err:
            raise BundleError(f"{label}: artifact {entry} does not match its own "
                              f"{MANIFEST} ({err})".replace(str(staging), PREFIX)) from None
    return manifest


def _extract_members(tar: tarfile.TarFile, staging: Path, label: str, progress: bool
                     ) -> tuple[dict, set[str]]:
    """The manifest (the first member), and the files copied into ``staging``, each checked
    against it as it is read."""
    first = tar.next()
    if first is None or first.name != BUNDLE_MANIFEST:
        raise BundleError(f"{label}: not a ttc cache bundle (its first member is not "
                          f"{BUNDLE_MANIFEST})")
    manifest = _read_manifest(tar, first, label)
    files = manifest["files"]
    seen: set[str] = set()
    with tqdm(total=sum(f["bytes"] for f in files.values()), unit="B", unit_scale=True,
              desc=f"import {label}", disable=not progress, leave=False) as bar:
        for member in tar:
            if member is first:  # iteration starts over from the first member
                continue
            rel = _member_entry(member, label)
            if rel is None:  # a directory entry: its files are checked one by one
                continue
            if rel not in files:
                raise BundleError(f"{label}: {member.name} is not in the archive's manifest")
            if rel in seen:
                raise BundleError(f"{label}: {member.name} appears twice")
            seen.add(rel)
            if member.size != files[rel]["bytes"]:
                raise BundleError(f"{label}: {member.name} has {member.size} bytes, the "
                                  f"manifest says {files[rel]['bytes']}")
            _copy_checked(tar, member, staging / rel, files[rel], label)
            bar.update(member.size)
    return manifest, seen


def _check_end(tar: tarfile.TarFile, stream, gz: bool, label: str) -> None:
    """Refuse an archive cut short after its last whole member: a plain tar must end with the
    end-of-archive marker (two zero blocks); a gzip stream is read to its end, where its
    length and CRC are checked (a truncated one has lost them)."""
    if gz:
        while stream.read(1 << 20):
            pass
        return
    stream.seek(tar.offset)
    if stream.read(2 * tarfile.BLOCKSIZE) != bytes(2 * tarfile.BLOCKSIZE):
        raise BundleError(f"{label}: truncated archive (it ends without the end-of-archive "
                          f"marker)")


def _read_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo, label: str) -> dict:
    """The archive's manifest, checked for shape: every file lies in a listed artifact."""
    if not member.isreg() or member.size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{label}: {BUNDLE_MANIFEST} is not a plain file of a sane size")
    try:
        manifest = json.loads(tar.extractfile(member).read())
    except ValueError:
        raise BundleError(f"{label}: {BUNDLE_MANIFEST} is not readable JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{label}: not a ttc cache bundle ({BUNDLE_MANIFEST} has no "
                          f"format {FORMAT!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{label}: bundle format version {manifest.get('format_version')!r}"
                          f"; this ttc reads version {FORMAT_VERSION}")
    artifacts, files = manifest.get("artifacts"), manifest.get("files")
    if not (isinstance(artifacts, list) and isinstance(files, dict)
            and isinstance(manifest.get("profile"), str)
            and all(isinstance(e, dict) and isinstance(e.get("bytes"), int)
                    and isinstance(e.get("sha256"), str) for e in files.values())):
        raise BundleError(f"{label}: {BUNDLE_MANIFEST} is malformed")
    for entry in artifacts:
        _check_entry(str(entry))
    listed = set(artifacts)
    for rel in files:
        _check_relative(rel, label)
        if "/".join(PurePosixPath(rel).parts[:2]) not in listed:
            raise BundleError(f"{label}: {rel} lies in no artifact the manifest lists")
    return manifest


def _check_relative(rel: str, label: str) -> None:
    """A file of an artifact: ``kind/name/file...``, nothing absolute, no ``..``."""
    path = PurePosixPath(rel)
    if path.is_absolute() or "\\" in rel or "\x00" in rel or len(path.parts) < 3 \
            or any(p in ("", ".", "..") for p in path.parts) or path.as_posix() != rel:
        raise BundleError(f"{label}: refused: the path {rel!r} would leave the cache")


def _member_entry(member: tarfile.TarInfo, label: str) -> str | None:
    """The cache-relative path of a member's file; None for a directory entry. Refuses
    links, devices and any path outside ``cache/``."""
    name = member.name
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or "\x00" in name:
        raise BundleError(f"{label}: refused: member {name!r} would leave the cache")
    if member.issym() or member.islnk():
        raise BundleError(f"{label}: refused: member {name!r} is a link (to "
                          f"{member.linkname!r})")
    parts = path.parts
    if not parts or parts[0] != PREFIX:
        raise BundleError(f"{label}: refused: member {name!r} is outside {PREFIX}/")
    if member.isdir():
        return None
    if not member.isreg():
        raise BundleError(f"{label}: refused: member {name!r} is not a plain file")
    rel = "/".join(parts[1:])
    _check_relative(rel, label)
    return rel


def _copy_checked(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path,
                  expected: dict, label: str) -> None:
    """Copy a member's bytes to ``target``, hashing them; refuse a size or sha256 that
    differs from the manifest."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    source = tar.extractfile(member)
    with open(target, "wb") as out:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
            out.write(block)
    if size != expected["bytes"] or digest.hexdigest() != expected["sha256"]:
        raise BundleError(f"{label}: {member.name} differs from the archive's manifest "
                          f"(sha256): the archive is damaged or was altered")


def _move_in(artifacts: Iterable[str], staging: Path, root: Path) -> tuple[int, int]:
    """Move each verified artifact from ``staging`` into the cache, atomically; keep one that
    is already there and intact, replace one that is damaged. Returns ``(added, kept)``."""
    added = kept = 0
    for entry in artifacts:
        target = root / entry
        if target.exists():
            try:
                verify_manifest(target)
                kept += 1
                continue
            except DamagedArtifact:
                discard_artifact(target)
        with atomic_dir(target) as tmp:
            for item in (staging / entry).iterdir():
                shutil.move(item, tmp / item.name)
        added += 1
    return added, kept


def _current_results(profile: str) -> int | None:
    """How many chapters of this checkout's profile ``profile`` have their result in the
    cache; None when there is no such profile here."""
    from ttc.config import ConfigError
    from ttc.pipeline import profile_keys
    from ttc.results import result_dir

    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", profile):
        return None  # a name from the archive, never a path
    try:
        keys = profile_keys(profile)
    except ConfigError:
        return None
    return sum(result_dir(chapter, key).is_dir() for chapter, key in keys.items())


__all__ = ["BundleError", "BundleSummary", "default_archive_name", "export_bundle",
           "import_bundle", "profile_artifacts"]
