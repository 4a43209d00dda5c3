"""Putting computed numbers into the book's prose.

Numbers reach the text through myst-nb's ``glue`` so the prose cannot drift from the data.
The convention: a chapter's ``facts(tables, config)`` returns every number and sentence its
prose quotes as *display text*, formatted by :func:`fmt` (so a missing value reads "n/a", never
"nan"); the notebook glues them all with :func:`glue_facts`, and the prose uses plain
``{glue:text}`name``` roles with no format spec.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

MISSING = "n/a"
#: a signed fixed-point format spec, "+.2f", and the same as a table's column format,
#: "{:+.2f}": both print through :func:`signed`
_SIGNED = re.compile(r"\+\.(\d+)f")
_SIGNED_COLUMN = re.compile(r"\{:\+\.(\d+)f\}")
#: the most decimals :func:`signed` adds to show a small nonzero value's sign
MAX_EXTRA_DECIMALS = 3


def fmt(value: Any, spec: str = ".2f") -> str:
    """``value`` formatted with ``spec`` (``".2f"``, ``","``, ``".0%"``, ``"g"``); ``None`` and
    NaN read :data:`MISSING`. Strings pass through; integers ignore a float spec."""
    value = plain(value)
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int)) and spec.endswith("f"):
        return f"{value:,}" if spec.startswith(",") else str(value)
    if match := _SIGNED.fullmatch(spec):
        return signed(value, int(match.group(1)))
    return format(value, spec)


def signed(value: float, decimals: int = 2) -> str:
    """``value`` with its sign and ``decimals`` decimals ("+0.12", "-0.05"), but a nonzero
    value that would round to a signed zero gets up to :data:`MAX_EXTRA_DECIMALS` more, until
    a digit shows: -0.0017 reads "-0.002", not "-0.00" (an interval's end just below zero
    says it excludes zero; "-0.00" looks like a typo). Zero, and a value too small to show
    even then, read "+0.00"; NaN reads :data:`MISSING`."""
    value = float(value)
    if value != value:
        return MISSING
    if value == 0:
        value = 0.0  # -0.0 too
    for places in range(decimals, decimals + MAX_EXTRA_DECIMALS + 1):
        text = f"{value:+.{places}f}"
        if text.strip("+-0."):
            return text
    return f"{0.0:+.{decimals}f}"  # zero, or too small to show at any of those places


def cell(table, column: str, row: int = 0) -> Any:
    """One value of a table as a plain Python value (``row`` may count from the end), or
    None when the table is empty, too short or lacks the column: facts quote cells of
    tables that may be empty, and :func:`fmt` turns None into :data:`MISSING`."""
    if column not in table or not -len(table) <= row < len(table):
        return None
    return plain(table[column].iloc[row])


def direction(change: float, up: str, down: str, level: str, tolerance: float = 0.01) -> str:
    """A word for the sign of ``change``: ``up`` above ``tolerance``, ``down`` below
    ``-tolerance``, ``level`` in between (default: within one point of accuracy);
    :data:`MISSING` when ``change`` is missing (None or NaN)."""
    if change is None or change != change:
        return MISSING
    return up if change > tolerance else down if change < -tolerance else level


def joined(parts: list[str]) -> str:
    """Words as a sentence lists them: ``a``, ``a and b``, ``a, b and c`` (empty: "")."""
    return " and ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + " and " + parts[-1]


def interval_text(low: Any, high: Any, spec: str = "+.3f") -> str:
    """An interval as the prose quotes it, "-0.130 to -0.020"; :data:`MISSING` without one."""
    if low is None or high is None:
        return MISSING
    return f"{fmt(low, spec)} to {fmt(high, spec)}"


def difference_text(mean: float, low: float, high: float) -> str:
    """A paired difference with its interval as the tables show it: ``+0.10 [+0.02, +0.18]``
    (:func:`signed`: an end just below zero reads ``-0.002``, not ``-0.00``)."""
    return f"{signed(mean)} [{signed(low)}, {signed(high)}]"


#: what a Holm-corrected verdict reads where the uncorrected 95% interval printed beside it
#: excludes zero but the corrected test does not reject: says why the two seem to disagree
NOT_AFTER_HOLM = "not detectable after Holm"


def shown_verdict(verdict: str, low: float, high: float,
                  neutral: str = "no detectable difference", p: float | None = None) -> str:
    """The verdict as a table or sentence shows it next to its uncorrected 95% interval
    [``low``, ``high``]: a neutral verdict whose interval excludes zero reads
    :data:`NOT_AFTER_HOLM` (the difference is detectable alone, not among the family of
    comparisons read together), or, where the comparison's own p-value ``p`` (the paired
    sign-flip test, :func:`ttc.metrics.paired_bootstrap`) is 0.05 or more, "not detectable
    (sign-flip p = ...)": the percentile interval and the test then disagree, and the test
    decides. Everything else is unchanged."""
    if verdict == neutral and (low > 0 or high < 0):
        if p is not None and p == p and p >= 0.05:
            # 0.0509 would read "p = 0.05", which looks like a rejection: one more decimal
            shown = f"{p:.3f}" if p < 0.055 else f"{p:.2f}"
            return f"not detectable (sign-flip p = {shown})"
        return NOT_AFTER_HOLM
    return verdict


def glue_facts(facts: dict[str, Any]) -> None:
    """Glue every fact of a chapter under its name (for ``{glue:text}`` roles)."""
    for name, value in facts.items():
        glue(name, value)


def plain(value: Any) -> Any:
    """A numpy scalar as the equivalent Python number; anything else unchanged."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue(name: str, value: Any, display: bool = False) -> Any:
    """Glue ``value`` under ``name`` for ``{glue:text}`` roles; returns the plain value."""
    from myst_nb import glue as _glue

    value = plain(value)
    _glue(name, value, display=display)
    return value


def table(frame, formats: dict[str, str] | None = None, rename: dict[str, str] | None = None):
    """A results table as HTML for the book: numbers formatted per column, no index.

    ``formats`` maps column -> format spec (``"{:,.0f}"``; a signed one, ``"{:+.2f}"``,
    prints through :func:`signed`); ``rename`` gives readable headers.
    Rendered with pandas' own table markup so the book theme styles it.
    """
    from IPython.display import HTML

    shown = frame.copy()
    for column, fmt in (formats or {}).items():
        match = _SIGNED_COLUMN.fullmatch(fmt)
        decimals = int(match.group(1)) if match else None
        shown[column] = shown[column].map(
            fmt.format if decimals is None else lambda v, d=decimals: signed(v, d))
    shown = shown.rename(columns=rename or {})
    return HTML(shown.to_html(index=False, classes="dataframe", border=0, escape=True))
