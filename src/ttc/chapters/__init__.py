"""Registry of the book's chapters: the DAG the pipeline runs.

For each chapter: its notebook (``notebooks/<key>.md``), its config dataclass, its ``run``
function, the ``facts`` its prose quotes, and the chapters whose published results it reads.
A chapter module imports library modules only, never another chapter module; what it needs
from an earlier chapter arrives in ``run(config, inputs)`` as that chapter's published
:class:`~ttc.results.ChapterResult` (``inputs["03_sampling"]``). ``ttc.pipeline`` loads or
computes those results in order, so a later chapter never re-runs an earlier one.

Adding a chapter: write ``chNN_name.py`` (a ``...ChapterConfig`` dataclass, ``run`` and
``facts``), its notebook, one entry below and its parameters in every profile
(docs/extending.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ttc.chapters import (
    ch01_accounting,
    ch02_family,
    ch03_sampling,
    ch04_verifiers,
    ch05_search,
    ch06_revisions,
    ch07_compute_optimal,
    ch08_floor,
)
from ttc.config import ConfigError, build_config

Tables = Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class Chapter:
    """One chapter: notebook key, title, config class, experiment, facts and inputs."""

    key: str
    title: str
    config_cls: type
    #: ``run(config, inputs, progress) -> tables``; ``inputs`` maps every upstream chapter
    #: (direct or not) to its published result
    run: Callable[..., dict[str, pd.DataFrame]]
    #: ``facts(tables, config) -> {name: text}``: what the prose quotes, already formatted
    facts: Callable[[Tables, Any], dict[str, Any]]
    #: the chapters whose published results ``run`` reads directly
    reads: tuple[str, ...] = ()
    #: ``needs(config) -> keys``: the part of ``reads`` a given config reads (chapter 3 with
    #: an external model reads no family); None: all of ``reads``
    needs_fn: Callable[[Any], tuple[str, ...]] | None = None

    def needs(self, config: Any) -> tuple[str, ...]:
        """The chapters this chapter reads under ``config`` (a subset of ``reads``)."""
        if self.needs_fn is None:
            return self.reads
        needed = tuple(self.needs_fn(config))
        if not set(needed) <= set(self.reads):
            raise RuntimeError(f"chapter {self.key} needs {needed}, not all in {self.reads}")
        return needed

    @property
    def short_name(self) -> str:
        return self.key.split("_", 1)[1]

    def parameter_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.config_cls)]

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in dataclasses.fields(self.config_cls)}


def _chapter(module, key: str, title: str, config_cls: type, reads: tuple[str, ...] = ()):
    return Chapter(key, title, config_cls, module.run, module.facts, reads,
                   getattr(module, "needs", None))


CHAPTERS: dict[str, Chapter] = {
    c.key: c
    for c in (
        _chapter(ch01_accounting, "01_accounting", "The question and the accounting",
                 ch01_accounting.AccountingChapterConfig),
        _chapter(ch02_family, "02_family", "A controlled model family",
                 ch02_family.FamilyChapterConfig),
        _chapter(ch03_sampling, "03_sampling", "Parallel sampling",
                 ch03_sampling.SamplingChapterConfig, reads=("02_family",)),
        _chapter(ch04_verifiers, "04_verifiers", "Verifiers",
                 ch04_verifiers.VerifiersChapterConfig, reads=("02_family", "03_sampling")),
        _chapter(ch05_search, "05_search", "Search against a verifier",
                 ch05_search.SearchChapterConfig,
                 reads=("02_family", "03_sampling", "04_verifiers")),
        _chapter(ch06_revisions, "06_revisions", "Sequential revisions",
                 ch06_revisions.RevisionsChapterConfig,
                 reads=("02_family", "03_sampling", "04_verifiers", "05_search")),
        _chapter(ch07_compute_optimal, "07_compute_optimal",
                 "Compute-optimal scaling and the exchange",
                 ch07_compute_optimal.ComputeOptimalChapterConfig,
                 reads=("02_family", "03_sampling", "04_verifiers", "05_search",
                        "06_revisions")),
        _chapter(ch08_floor, "08_floor", "Where capability sets a floor",
                 ch08_floor.FloorChapterConfig,
                 reads=("02_family", "03_sampling", "04_verifiers",
                        "07_compute_optimal")),
    )
}


def _check_dag() -> None:
    """Every chapter reads only chapters registered before it (so the graph has no cycle)."""
    seen: set[str] = set()
    for key, chapter in CHAPTERS.items():
        unknown = [r for r in chapter.reads if r not in seen]
        if unknown:
            raise RuntimeError(f"chapter {key} reads {unknown}, which are not earlier chapters")
        seen.add(key)


def upstream(key: str) -> list[str]:
    """Every chapter ``key`` depends on, directly or not, in registry (topological) order."""
    needed: set[str] = set()
    stack = list(get_chapter(key).reads)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(CHAPTERS[name].reads)
    return [k for k in CHAPTERS if k in needed]


def dependencies(key: str, configs: Mapping[str, Any]) -> list[str]:
    """Every chapter ``key`` reads, directly or not, under ``configs`` (chapter key ->
    config), in registry order: like :func:`upstream`, but following each chapter's
    :meth:`Chapter.needs` for its config."""
    needed: set[str] = set()
    stack = list(get_chapter(key).needs(configs[key]))
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(CHAPTERS[name].needs(configs[name]))
    return [k for k in CHAPTERS if k in needed]


def get_chapter(name: str) -> Chapter:
    """Find a chapter by notebook name (``01_accounting``), short name (``accounting``) or
    number (``1``); a one-line :class:`ConfigError` otherwise."""
    for chapter in CHAPTERS.values():
        number = chapter.key.split("_", 1)[0]
        if str(name) in (chapter.key, chapter.short_name, number, number.lstrip("0")):
            return chapter
    raise ConfigError(f"unknown chapter {name!r}; allowed: {', '.join(CHAPTERS)}")


def config_from_namespace(key: str, namespace: Mapping[str, Any]) -> Any:
    """Build a chapter's config from a notebook's variables (the ``parameters`` cell,
    possibly overridden by papermill)."""
    chapter = get_chapter(key)
    params = {name: namespace[name] for name in chapter.parameter_names() if name in namespace}
    return build_config(chapter.config_cls, params, where=f"notebook {chapter.key}")


_check_dag()
