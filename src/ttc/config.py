"""Typed experiment configs, checked on entry.

Every chapter's experiment takes one frozen dataclass. ``build_config`` turns loose parameters
(from a YAML profile, the command line or a notebook's ``parameters`` cell) into that dataclass
and turns every mistake into a one-line :class:`ConfigError` that names the parameter and what
is allowed, instead of a stack trace from deep inside a run.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A parameter is unknown, of the wrong type, or out of range."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """Check ``value`` against annotation ``tp``; convert YAML lists to tuples, ints to floats."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            try:
                return _coerce(name, value, option)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"parameter {name!r}: expected {_type_name(tp)}, got {value!r}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"parameter {name!r}: expected None, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(
                f"parameter {name!r}: expected a list of {_type_name(typing.get_args(tp)[0])},"
                f" got {value!r}"
            )
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        items = [_coerce(f"{name}[{i}]", v, item_tp) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"parameter {name!r}: expected int, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(
            f"parameter {name!r}: expected {tp.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def build_config(cls: type[T], params: Mapping[str, Any] | None = None, where: str = "") -> T:
    """Make ``cls(**params)`` with every parameter checked by name, type and range.

    ``where`` prefixes messages (e.g. ``"profile cpu, notebook 02_family"``).
    """
    prefix = f"{where}: " if where else ""
    params = dict(params or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(params) - fields)
    if unknown:
        raise ConfigError(
            f"{prefix}unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(fields))}"
        )
    try:
        checked = {k: _coerce(k, v, hints[k]) for k, v in params.items()}
        return cls(**checked)
    except (ConfigError, ValueError) as err:
        raise ConfigError(f"{prefix}{err}") from None


def require_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise a ConfigError unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(
            f"parameter {name!r} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
        )


def require_range(name: str, value: float, low: float | None = None, high: float | None = None):
    """Raise a ConfigError unless ``low <= value <= high`` (either bound may be omitted)."""
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ConfigError(f"parameter {name!r} must be in [{lo}, {hi}]; got {value!r}")


def require_distinct_ints(name: str, values: Iterable[Any], low: int) -> None:
    """Raise a ConfigError unless ``values`` is a non-empty list of distinct integers, each
    at least ``low``."""
    values = list(values)
    if (not values or len(set(values)) != len(values)
            or any(not isinstance(v, int) or isinstance(v, bool) or v < low for v in values)):
        raise ConfigError(f"parameter {name!r} must be a non-empty list of distinct integers "
                          f">= {low}; got {values!r}")


def config_hash(obj: Any, length: int = 16) -> str:
    """Stable short hash of a config (dataclass, dict, tuple...), for cache keys."""
    import hashlib
    import json

    def plain(x: Any) -> Any:
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return {"__type__": type(x).__name__, **{k: plain(v) for k, v in vars(x).items()}}
        if isinstance(x, Mapping):
            return {str(k): plain(v) for k, v in sorted(x.items())}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        return x

    text = json.dumps(plain(obj), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
