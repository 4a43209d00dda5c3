"""Chapter 1's tables and facts, on hand-built tables whose answers are worked out by hand."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from ttc.chapters import ch01_accounting as ch01
from ttc.paths import notebooks_dir

CONFIG = ch01.AccountingChapterConfig()


def _glue_names(key: str) -> set[str]:
    text = (notebooks_dir() / f"{key}.md").read_text()
    return set(re.findall(r"\{glue:text\}`([^`]+)`", text))


def _tables() -> dict[str, pd.DataFrame]:
    # exchange factor M + 3(M - 1)/R, worked by hand
    curve = pd.DataFrame({"M": [2.0, 2.0, 4.0, 4.0], "R": [1.0, 10.0, 1.0, 10.0],
                          "exchange_factor": [5.0, 2.3, 13.0, 4.9]})
    snell = pd.DataFrame({"M": [14.0] * 3, "R": [0.16, 0.79, 22.0],
                          # 14 + 39/0.16 = 257.75, 14 + 39/0.79 = 63.37, 14 + 39/22 = 15.77
                          "exchange_factor": [257.75, 63.367, 15.773]})
    family = pd.DataFrame({"model": ["a", "b"], "params_total": [150, 900], "N": [100, 800],
                           "M": [1.0, 8.0],
                           # M = 8: 8 + 21/0.16 = 139.25, 8 + 21/0.79 = 34.58, 8 + 21/22 = 8.95
                           "factor_R0.16": [1.0, 139.25], "factor_R0.79": [1.0, 34.58],
                           "factor_R22": [1.0, 8.95]})
    return {"curve": curve, "snell": snell, "family": family}


def test_facts_on_hand_built_tables():
    facts = ch01.facts(_tables(), CONFIG)
    assert facts == {
        "snell_M": "14",
        "snell_factor_R0.16": "258",
        "snell_factor_R0.79": "63",
        "snell_factor_R22": "16",
        "curve_largest_M": "4",  # the largest ratio in the sweep
        "curve_r_max": "10",  # its right edge
        "curve_factor_at_r_max": "4.9",
        "family_smallest": "a",
        "family_largest": "b",
        "family_M": "8",
        "family_factor_R0.16": "139",
        "family_factor_R22": "9",
    }


def test_curve_end_is_the_largest_m_at_the_largest_r():
    curve = _tables()["curve"].iloc[::-1]  # row order does not matter
    end = ch01._curve_end(curve)
    assert (end["M"], end["R"], end["exchange_factor"]) == (4.0, 10.0, 4.9)
    assert ch01._curve_end(curve.iloc[0:0]) is None


def test_facts_on_empty_tables_read_n_a():
    empty = {name: frame.iloc[0:0] for name, frame in _tables().items()}
    facts = ch01.facts(empty, CONFIG)
    assert set(facts) == set(ch01.facts(_tables(), CONFIG))
    assert set(facts.values()) == {"n/a"}


def test_a_missing_snell_ratio_reads_n_a():
    tables = _tables()
    tables["snell"] = tables["snell"][tables["snell"]["R"] != 0.79]
    facts = ch01.facts(tables, CONFIG)
    assert facts["snell_factor_R0.79"] == "n/a"
    assert facts["snell_factor_R22"] == "16"


def test_run_tables():
    config = ch01.AccountingChapterConfig(ratios=(2.0, 4.0), r_min=1.0, r_max=100.0,
                                          n_points=3, family=("f32x2", "f64x3"))
    tables = ch01.run(config)
    curve = tables["curve"]
    assert len(curve) == 6 and sorted(set(curve["R"])) == pytest.approx([1.0, 10.0, 100.0])
    at = curve.set_index(["M", "R"])["exchange_factor"]
    assert at[(2.0, 1.0)] == pytest.approx(5.0)  # 2 + 3/1
    assert at[(4.0, 10.0)] == pytest.approx(4.9)  # 4 + 9/10
    snell = tables["snell"].set_index("R")["exchange_factor"]
    assert snell[0.16] == pytest.approx(14 + 39 / 0.16)
    family = tables["family"]
    assert list(family["model"]) == ["f32x2", "f64x3"]
    assert family["M"].iloc[0] == 1.0 and family["factor_R22"].iloc[0] == pytest.approx(1.0)
    m = family["N"].iloc[1] / family["N"].iloc[0]
    assert family["factor_R0.16"].iloc[1] == pytest.approx(m + 3 * (m - 1) / 0.16)
    facts = ch01.facts(tables, config)
    assert facts["curve_largest_M"] == "4" and facts["curve_r_max"] == "100"
    assert facts["family_largest"] == "f64x3"


def test_every_glue_role_of_the_notebook_is_a_fact():
    assert _glue_names("01_accounting") == set(ch01.facts(_tables(), CONFIG))
