"""benchmarks/cold_book.py's analysis: phases of a build and the cores busy in each, against
hand-computed cases; the runner lines it parses, against the runner's own formats."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from tests.conftest import benchmark_module


@pytest.fixture(scope="module")
def cold_book():
    try:
        yield benchmark_module("cold_book")
    finally:
        sys.modules.pop("cold_book", None)


def test_phases_average_the_samples_inside_each_phase(cold_book):
    # build from t=100 to t=110 on 2 cores; chapter a computes from 102, b from 106
    marks = [(102.0, "a"), (106.0, "b")]
    samples = [(101.0, 1.0), (102.0, 1.0),  # start-up: (100, 102]
               (103.0, 2.0), (104.0, 2.0), (105.0, 1.5), (106.0, 0.5),  # a: (102, 106]
               (107.0, 2.0), (110.0, 1.0)]  # b: (106, 110]
    out = cold_book.phases(marks, samples, start=100.0, stop=110.0, cores=2)
    assert [p.label for p in out] == ["start-up", "a", "b"]
    assert [(p.start, p.stop) for p in out] == [(0.0, 2.0), (2.0, 6.0), (6.0, 10.0)]
    assert [p.busy for p in out] == [1.0, 1.5, 1.5]
    # idle core-seconds: (2-1)+(2-1); 0+0+0.5+1.5; 0+1
    assert [p.idle_core_seconds for p in out] == [2.0, 2.0, 1.0]


def test_phases_without_samples_or_with_marks_outside_the_build(cold_book):
    out = cold_book.phases([(99.0, "early"), (100.0, "a"), (120.0, "late")], [], start=100.0,
                           stop=105.0, cores=2)
    assert [p.label for p in out] == ["a"]  # start-up is empty, the others lie outside
    assert math.isnan(out[0].busy) and out[0].idle_core_seconds == 0.0


def test_runner_lines_are_recognised(cold_book):
    """The formats printed by ttc.runner and ttc.pipeline (see their print calls)."""
    assert cold_book.COMPUTING.match(
        "[ttc] 02_family: computing (no stored result for this config) ...").group(1) == (
        "02_family")
    assert not cold_book.COMPUTING.match("[ttc] 02_family: computed in 543.5 s, stored as x")
    assert cold_book.HTML.match("[ttc] building HTML with Jupyter Book ...")
    summary = cold_book.SUMMARY.match(f"[ttc]   {'02_family':<24} {555.6:7.1f} s")
    assert summary.groups() == ("02_family", "555.6")
    total = cold_book.SUMMARY.match(f"[ttc]   {'total (with HTML)':<24} {1021.1:7.1f} s")
    assert total.groups() == ("total (with HTML)", "1021.1")
    # a notebook's own line ("result ..., notebook ...") is not a summary line
    assert not cold_book.SUMMARY.match(
        "[ttc]   02_family: 555.6 s (result 543.5 s, notebook 12.1 s)")


def test_cpu_jiffies_reads_proc_stat(cold_book):
    if not Path("/proc/stat").is_file():
        pytest.skip("needs Linux")
    busy, total = cold_book.cpu_jiffies()
    assert 0 <= busy <= total
