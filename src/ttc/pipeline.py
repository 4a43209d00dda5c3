"""The book as a one-way pipeline: load a chapter's published result, or compute it.

``chapter_result("07_compute_optimal", "cpu")`` resolves the configs of chapter 7 and of every
chapter it reads from the ``cpu`` profile, then walks the DAG of :mod:`ttc.chapters` in order:
each chapter's result is loaded from the results store (:mod:`ttc.results`) when one exists
for its config, its inputs' keys and the code, and computed from its inputs otherwise. No
chapter calls another chapter's ``run``; a warm build loads tables and computes nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ttc.cache import recording_artifacts
from ttc.chapters import CHAPTERS, config_from_namespace, dependencies, get_chapter
from ttc.config import ConfigError, build_config
from ttc.profiles import chapter_config, load_profile, off_message
from ttc.results import (
    ChapterResult,
    DamagedArtifact,
    discard,
    load_result,
    result_key,
    save_result,
    storable,
)

DEFAULT_PROFILE = "smoke"


def _log(message: str) -> None:
    print(f"[ttc] {message}", file=sys.stderr, flush=True)


def profile_configs(profile: str | Path) -> dict[str, Any]:
    """The validated config of every chapter under a profile (None for a chapter the
    profile turns off)."""
    params = load_profile(profile)
    name = Path(str(profile)).stem
    return {key: None if params[key] is False else
            build_config(CHAPTERS[key].config_cls, params[key], where=f"profile {name}, {key}")
            for key in CHAPTERS}


def _needed(key: str, configs: dict[str, Any], profile: str | Path) -> list[str]:
    """The chapters ``key`` reads under ``configs``, in registry order; a one-line error
    when it, or a chapter it reads, is off under the profile."""
    if configs[key] is None:
        raise ConfigError(off_message(profile, key, load_profile(profile)))
    needed: set[str] = set()
    stack = list(CHAPTERS[key].needs(configs[key]))
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        if configs[name] is None:
            raise ConfigError(f"{key} with these parameters reads {name}: "
                              f"{off_message(profile, name, load_profile(profile))}")
        needed.add(name)
        stack.extend(CHAPTERS[name].needs(configs[name]))
    return [k for k in CHAPTERS if k in needed]


def _load_or_compute(key: str, config: Any, inputs: Mapping[str, ChapterResult],
                     progress: bool, quiet: bool, recompute: bool = False,
                     compute: bool = True) -> ChapterResult | None:
    chapter = CHAPTERS[key]
    store_key = result_key(key, config, {r: inputs[r].key for r in chapter.needs(config)})
    if recompute:
        discard(key, store_key)
    try:
        stored = load_result(key, config, store_key)
    except DamagedArtifact as err:
        _log(f"{key}: stored result damaged ({err}); recomputing")
        discard(key, store_key)
        stored = None
    if stored is not None:
        if not quiet:
            _log(f"{key}: loaded stored result {store_key}")
        return stored
    if not compute:
        return None
    _log(f"{key}: computing (no stored result for this config) ...")
    start = time.perf_counter()
    visible = {name: inputs[name] for name in inputs}
    with recording_artifacts() as used:  # stored with the result, for `ttc cache export`
        tables = chapter.run(config, visible, progress=progress)
    tables = {name: storable(name, frame) for name, frame in tables.items()}
    result = ChapterResult(key, config, tables, chapter.facts(tables, config), store_key,
                           tuple(sorted(used)))
    save_result(result)
    _log(f"{key}: computed in {time.perf_counter() - start:.1f} s, stored as {store_key}")
    return result


def chapter_result(chapter: str, profile: str | Path = DEFAULT_PROFILE,
                   overrides: Mapping[str, Any] | None = None, *, config: Any = None,
                   progress: bool = False, quiet: bool = False,
                   recompute: bool = False, stored_only: bool = False) -> ChapterResult | None:
    """A chapter's published result under ``profile``: loaded, or computed and stored.

    The chapters it reads are resolved first, each from the profile (never from a
    parameter). ``overrides`` (or a whole ``config``) change this chapter's own parameters
    only; its result is then stored under its own key, next to the profile's.
    ``recompute`` discards this chapter's stored result first (not its inputs').
    ``stored_only`` returns None instead of computing this chapter's result when none is
    stored (its inputs are still loaded or computed): for an exercise that reads a rerun
    the reader may not have made yet.
    """
    key = get_chapter(chapter).key
    configs = profile_configs(profile)
    if config is None:
        config = chapter_config(profile, key, overrides)
    elif overrides:
        raise ConfigError("pass either 'config' or 'overrides', not both")
    if recompute and stored_only:
        raise ConfigError("pass either 'recompute' or 'stored_only', not both")
    inputs = _inputs(key, config, configs, profile, progress, quiet)
    return _load_or_compute(key, config, inputs, progress, quiet, recompute,
                            compute=not stored_only)


def _inputs(key: str, config: Any, configs: dict[str, Any], profile: str | Path,
            progress: bool, quiet: bool) -> dict[str, ChapterResult]:
    """The published results ``key`` reads under ``config`` (loaded or computed, in order)."""
    configs = {**configs, key: config}
    done: dict[str, ChapterResult] = {}
    for name in _needed(key, configs, profile):
        visible = {r: done[r] for r in dependencies(name, configs)}
        done[name] = _load_or_compute(name, configs[name], visible, progress, quiet)
    return {name: done[name] for name in dependencies(key, configs)}


def chapter_inputs(chapter: str, profile: str | Path, config: Any,
                   progress: bool = False) -> dict[str, ChapterResult]:
    """What a chapter's ``run`` would receive under ``profile`` with its own ``config``: the
    published results of the chapters it reads (loaded, or computed first). Work that runs
    outside the chapter, such as sharded sampling, starts from these."""
    key = get_chapter(chapter).key
    return _inputs(key, config, profile_configs(profile), profile, progress, quiet=True)


def notebook_result(chapter: str, namespace: Mapping[str, Any]) -> ChapterResult:
    """What a chapter notebook calls: its result for the variables of its ``parameters``
    cell, with upstream chapters under the ``profile`` variable (the build's profile)."""
    profile = namespace.get("profile", DEFAULT_PROFILE)
    config = config_from_namespace(chapter, namespace)
    return chapter_result(chapter, profile, config=config, quiet=True)


def store_key(chapter: str, profile: str | Path, params: Mapping[str, Any]) -> str:
    """The result key a chapter will have under ``profile`` with its own ``params``,
    without computing anything (the runner uses it to tell whether a notebook is current)."""
    key = get_chapter(chapter).key
    configs = profile_configs(profile)
    configs[key] = build_config(CHAPTERS[key].config_cls, params, where=key)
    keys: dict[str, str] = {}
    for name in [*_needed(key, configs, profile), key]:
        keys[name] = result_key(name, configs[name],
                                {r: keys[r] for r in CHAPTERS[name].needs(configs[name])})
    return keys[key]


def profile_keys(profile: str | Path) -> dict[str, str]:
    """The result key of every chapter under ``profile`` as it stands, computing nothing
    (``ttc cache export`` packs the results stored under these keys)."""
    configs = profile_configs(profile)
    keys: dict[str, str] = {}
    for name, chapter in CHAPTERS.items():
        keys[name] = result_key(name, configs[name], {r: keys[r] for r in chapter.reads})
    return keys
