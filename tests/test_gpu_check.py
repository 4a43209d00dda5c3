"""The GPU check script runs end to end on a CPU at smoke size and writes its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_script_smoke_on_cpu(tmp_path):
    out = tmp_path / "report"
    env = {**os.environ, "TTC_CACHE": str(tmp_path / "cache"), "PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(out),
                             "--size", "smoke"], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    timings = pd.read_csv(out / "timings.csv")
    assert list(timings["stage"]) == ["02_family", "03_sampling", "train f32x2"]
    assert (timings["seconds"] > 0).all()
    environment = json.loads((out / "environment.json").read_text())
    assert environment["device"] == "cpu" and environment["precision"] == "float32"
    assert environment["size"] == "smoke" and environment["base_profile"] == "gpu"
    members = pd.read_csv(out / "02_family" / "members.csv")
    assert list(members["model"]) == ["f32x2"]
    per_problem = pd.read_csv(out / "03_sampling" / "per_problem.csv")
    assert len(per_problem) == 3 and set(per_problem["n"]) == {4}  # 1 problem x 3 lengths
    assert (out / "profile.yaml").is_file()
    # usage errors are one line
    bad = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
