"""Putting computed numbers into the book's prose.

Numbers reach the text through myst-nb's ``glue`` so the prose cannot drift from the data.
``glue`` here converts numpy scalars to plain Python numbers first: myst-nb formats the
``text/plain`` repr, and numpy 2 writes ``np.float64(1.5)``, which it cannot format.
"""

from __future__ import annotations

from typing import Any

import numpy as np


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

    ``formats`` maps column -> format spec (``"{:,.0f}"``); ``rename`` gives readable headers.
    Rendered with pandas' own table markup so the book theme styles it.
    """
    from IPython.display import HTML

    shown = frame.copy()
    for column, fmt in (formats or {}).items():
        shown[column] = shown[column].map(fmt.format)
    shown = shown.rename(columns=rename or {})
    return HTML(shown.to_html(index=False, classes="dataframe", border=0, escape=True))
