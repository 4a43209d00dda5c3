"""A cold build of the book, measured: a fresh clone of the committed ``HEAD``, an empty
cache, this machine's matmul throughput before and after, the time of each notebook, and how
many of the cores were busy while each chapter's result was computed.

Machines of this project's kind differ up to 2x in speed, and one machine's speed moves
within the hour, so a build time means little without the throughput measured around it
(docs/benchmarks.md). The core counts say whether the build's wall time is its arithmetic or
its waiting: a chapter that keeps every core busy gets faster only with less work, one that
leaves a core idle could overlap with another. Samples come from ``/proc/stat`` (Linux) once a
second; a chapter's phase runs from its "computing" line to the next chapter's (its notebook
executes in the background during the next phase, :func:`ttc.runner.execute_all`).

    .venv/bin/python benchmarks/cold_book.py [--profile cpu] [--keep DIR]

Installation is not timed: the clone runs on this environment's packages with its own
``src`` first on the path. Prints Markdown tables to paste into docs/benchmarks.md. A
benchmark, not a test; nothing else should run meanwhile.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the runner's line when it starts computing a chapter's result, and when it builds HTML
COMPUTING = re.compile(r"^\[ttc\] (\S+): computing")
HTML = re.compile(r"^\[ttc\] building HTML")
#: the runner's summary line of one notebook's time: "[ttc]   02_family   555.6 s"
SUMMARY = re.compile(r"^\[ttc\]\s{3}(\S.*?)\s{2,}([\d.]+) s$")


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """fp32 matmul throughput of this machine on torch's default threads (GFLOP/s), measured
    in a child process so that this one stays free of torch."""
    code = (f"import time, torch\na, b = torch.randn({size}, {size}), torch.randn({size}, {size})\n"
            "a @ b; a @ b\nt = time.perf_counter()\n"
            f"for _ in range({repeats}): a @ b\n"
            f"print(2 * {size}**3 * {repeats} / (time.perf_counter() - t) / 1e9)")
    return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True).stdout)


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of all cores since boot, from ``/proc/stat`` (idle and iowait
    count as not busy)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total - fields[3] - fields[4], total


class CoreSampler(threading.Thread):
    """Samples, once per ``interval`` seconds, how many cores were busy since the last
    sample: ``samples`` is a list of (time.monotonic(), busy cores)."""

    def __init__(self, interval: float = 1.0):
        super().__init__(daemon=True)
        self.interval, self.samples, self.cores = interval, [], os.cpu_count() or 1
        self._halt = threading.Event()

    def run(self) -> None:
        busy, total = cpu_jiffies()
        while not self._halt.wait(self.interval):
            now_busy, now_total = cpu_jiffies()
            if now_total > total:
                share = (now_busy - busy) / (now_total - total)
                self.samples.append((time.monotonic(), self.cores * share))
            busy, total = now_busy, now_total

    def stop(self) -> None:
        self._halt.set()
        self.join()


@dataclass(frozen=True)
class Phase:
    """A stretch of the build and how busy the cores were in it."""

    label: str
    start: float  # seconds from the start of the build
    stop: float
    busy: float  # mean busy cores over the phase's samples (nan without samples)
    idle_core_seconds: float  # sum over the phase's samples of (cores - busy) × interval


def phases(marks: list[tuple[float, str]], samples: list[tuple[float, float]], start: float,
           stop: float, cores: int, interval: float = 1.0) -> list[Phase]:
    """Cut the build (``start``..``stop``) at ``marks`` ((time, label) of each phase's first
    line, in order) and average the core ``samples`` ((time, busy cores), each covering the
    ``interval`` before its time) within each phase. The stretch before the first mark is
    "start-up"."""
    edges = [(start, "start-up")] + [(t, label) for t, label in marks if start <= t <= stop]
    out = []
    for (begin, label), (end, _) in zip(edges, edges[1:] + [(stop, "")], strict=True):
        inside = [busy for t, busy in samples if begin < t <= end]
        mean = sum(inside) / len(inside) if inside else float("nan")
        idle = sum(cores - busy for busy in inside) * interval
        out.append(Phase(label, begin - start, end - start, mean, idle))
    return [phase for phase in out if phase.stop > phase.start]


def build(clone: Path, cache: Path, profile: str, log: Path
          ) -> tuple[list[str], list[tuple[float, str]], float, float]:
    """Run ``ttc book`` in ``clone`` with an empty ``cache`` (everything it prints, progress
    bars included, goes to ``log``); return its runner lines, the phase marks, and the
    build's start and stop (time.monotonic())."""
    env = dict(os.environ, TTC_CACHE=str(cache), PYTHONPATH=str(clone / "src"))
    lines, marks = [], []
    start = time.monotonic()
    with log.open("w") as output, subprocess.Popen(
            [sys.executable, "-m", "ttc", "book", "--profile", profile], cwd=clone, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as process:
        for line in process.stdout:  # progress bars' carriage returns end lines too
            output.write(line)
            at = line.find("[ttc]")  # a runner line may follow a bar that did not end
            if at < 0:
                continue
            line = line[at:].rstrip("\n")
            print(line, flush=True)
            lines.append(line)
            now = time.monotonic()
            if match := COMPUTING.match(line):
                marks.append((now, match.group(1)))
            elif HTML.match(line):
                marks.append((now, "HTML"))
    if process.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"the build failed (exit {process.returncode}); the end of {log}:\n"
                         f"{tail}")
    return lines, marks, start, time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--keep", type=Path, default=None,
                        help="clone into this (new) folder and keep it and its cache")
    args = parser.parse_args()
    if not Path("/proc/stat").is_file():
        raise SystemExit("cold_book.py samples /proc/stat: it needs Linux")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ttc-cold-"))
    clone, cache = work / "clone", work / "cache"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    before = matmul_gflops()
    sampler = CoreSampler()
    sampler.start()
    try:
        lines, marks, start, stop = build(clone, cache, args.profile, work / "build.log")
    finally:
        sampler.stop()
    after = matmul_gflops()
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\ncold `{args.profile}` book of {head}: {stop - start:.0f} s "
          f"({(stop - start) / 60:.1f} min); matmul {before:.0f} GFLOP/s before, {after:.0f} "
          f"after; {sampler.cores} cores\n")
    print("| notebook | seconds |\n|---|---|")
    for line in lines:
        if match := SUMMARY.match(line):
            print(f"| {match.group(1)} | {float(match.group(2)):.1f} |")
    print("\n| phase (result computed) | from | to | busy cores (mean) | idle core-seconds |")
    print("|---|---|---|---|---|")
    rows = phases(marks, sampler.samples, start, stop, sampler.cores)
    for phase in rows:
        print(f"| {phase.label} | {phase.start:.0f} s | {phase.stop:.0f} s | {phase.busy:.2f} "
              f"| {phase.idle_core_seconds:.0f} |")
    busy = [b for _, b in sampler.samples]
    print(f"| whole build | 0 s | {stop - start:.0f} s | {sum(busy) / max(1, len(busy)):.2f} "
          f"| {sum(p.idle_core_seconds for p in rows):.0f} |")


if __name__ == "__main__":
    main()
