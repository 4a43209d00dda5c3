"""Profiles: named sets of notebook parameters (``data/profiles/<name>.yaml``).

A profile is a YAML mapping from notebook name to that notebook's own parameters::

    02_family:
      train_steps: 2400
    03_sampling: {}      # every chapter is named, even with no parameter of its own

``smoke`` sizes everything for tests (the whole book in a few minutes), ``cpu`` is the embedded
default a reader runs on a laptop, ``gpu`` is a larger run on one GPU, and ``workshop`` is for a
class that starts from an imported cache (``ttc cache import``): ``cpu``'s family, later
chapters at reduced sizes, so a changed parameter is recomputed quickly. Every profile names every
chapter (which upstream results a chapter reads follows from the chapter registry and the
profile being built, so a chapter left out would silently run on other settings). Every
profile is validated before anything runs.

A chapter's entry may be ``false``: the chapter does not run under that profile. The ``llm``
profile samples hub models on word problems; the chapters that only make sense for the
trained family (its training, verifiers trained on its samples, search, revisions, the
exchange) are ``false`` there, and asking for one (or for a chapter that reads one) is a
one-line error naming the chapters that do run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ttc.chapters import CHAPTERS
from ttc.config import ConfigError, build_config
from ttc.paths import notebooks_dir, profiles_dir


class ProfileError(ConfigError):
    """A profile file is missing, malformed, or names an unknown notebook or parameter."""


def available_profiles() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def profile_path(name: str | Path) -> Path:
    """A profile's file: a name from ``data/profiles`` or a path to a YAML file."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ProfileError(f"profile file {str(path)!r} does not exist")
        return path
    path = profiles_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ProfileError(
            f"unknown profile {str(name)!r}; allowed: {', '.join(available_profiles())}"
        )
    return path


def load_profile(name: str | Path, _seen: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Read and validate a profile; return its raw parameters per notebook.

    A profile may start with ``extends: <profile>``: it then holds only what differs, and
    every chapter it does not name, or parameter it does not set, is the other profile's
    (``seeds`` extends ``cpu``). Raises :class:`ProfileError` with a one-line message for an
    unknown or missing notebook, an unknown parameter, a wrong type, a value out of range or
    a cycle of ``extends``.
    """
    path = profile_path(name)
    label = f"profile {path.stem}"
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ProfileError(f"{label}: not valid YAML ({err})".replace("\n", " ")) from None
    except (ValueError, IndexError, TypeError, OverflowError) as err:
        # PyYAML's own constructors fail like this on some malformed tags ("x: !!int")
        raise ProfileError(f"{label}: not valid YAML ({type(err).__name__}: {err})"
                           .replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{label}: expected a mapping of notebook name -> parameters")
    if "extends" in raw:
        raw = _extended(raw, label, (*_seen, path.stem))
    for key, params in raw.items():
        if key not in CHAPTERS:
            raise ProfileError(
                f"{label}: unknown notebook {key!r}; allowed: {', '.join(CHAPTERS)}"
            )
        if not (notebooks_dir() / f"{key}.md").is_file():
            raise ProfileError(f"{label}: notebook {key!r} has no file notebooks/{key}.md")
        if params is False:
            continue  # off under this profile
        if params is None:
            raw[key] = params = {}
        if not isinstance(params, dict):
            raise ProfileError(f"{label}, notebook {key}: expected a mapping of parameters")
        try:
            build_config(CHAPTERS[key].config_cls, params, where=f"{label}, notebook {key}")
        except ConfigError as err:
            raise ProfileError(str(err)) from None
    missing = [key for key in CHAPTERS if key not in raw]
    if missing:
        raise ProfileError(f"{label}: no entry for chapter(s) {', '.join(missing)}; name every "
                           f"chapter (an empty mapping {{}} keeps its defaults)")
    return raw


def _extended(raw: dict[str, Any], label: str, seen: tuple[str, ...]) -> dict[str, Any]:
    """``raw`` laid over the profile it ``extends``: per chapter, its parameters over the
    other profile's (``false`` or a chapter's absence as written in either)."""
    parent_name = raw.pop("extends")
    if not isinstance(parent_name, str) or not parent_name:
        raise ProfileError(f"{label}: 'extends' must name a profile; got {parent_name!r}")
    if Path(parent_name).stem in seen:
        raise ProfileError(f"{label}: 'extends' makes a cycle: "
                           f"{' -> '.join((*seen, Path(parent_name).stem))}")
    parent = load_profile(parent_name, seen)
    merged = dict(parent)
    for key, params in raw.items():
        if isinstance(params, dict) and isinstance(parent.get(key), dict):
            merged[key] = {**parent[key], **params}
        else:
            merged[key] = params
    return merged


def off_message(profile: str | Path, key: str, raw: dict[str, Any]) -> str:
    """The one line that says chapter ``key`` does not run under ``profile``."""
    name = Path(str(profile)).stem
    running = ", ".join(k for k in CHAPTERS if raw.get(k) is not False)
    return (f"chapter {key} does not run under profile {name} (its entry is false: it needs "
            f"the trained model family); chapters that run under {name}: {running}")


def chapter_config(profile: str | Path, key: str, overrides: dict[str, Any] | None = None):
    """The validated config of one chapter under a profile, with optional overrides."""
    raw = load_profile(profile)
    if raw[key] is False:
        raise ProfileError(off_message(profile, key, raw))
    params = {**raw[key], **(overrides or {})}
    return build_config(CHAPTERS[key].config_cls, params, where=f"profile {profile}, {key}")
