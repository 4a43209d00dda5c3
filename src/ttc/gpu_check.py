"""The GPU check: the ``gpu`` profile's family training and sampling, timed, through the CLI.

``ttc gpu-check OUT`` (or ``benchmarks/gpu_check.sh OUT``) trains the ``gpu`` profile's
family (chapter 2) and samples it (chapter 3) at a size meant to finish within 8 minutes on
one H200, then writes into ``OUT``: ``timings.csv`` (seconds per stage and per member's
training), ``environment.json`` (device, precision, library versions, memory budget),
the profile it ran (``profile.yaml``) and both chapters' result tables. No papermill or
Jupyter is needed. ``--size smoke`` runs the same path in seconds on a CPU (a test does).

Sizes: ``check`` keeps the ``gpu`` profile's seven members and recipe and samples 16
problems per length x 256 samples (and 8 eight-operation problems x 1,024) instead of the
profile's 1,000 x 2,048, which alone would take hours; ``smoke`` trains one member briefly.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import pandas as pd
import yaml

from ttc.config import ConfigError

#: overrides on top of the gpu profile, per size: chapter -> parameters
SIZES: dict[str, dict[str, dict]] = {
    "check": {
        "03_sampling": {"n_problems_per_ops": 16, "n_samples": 256, "hard_n_problems": 8,
                        "hard_n_samples": 1024, "batch_size": 0},
    },
    "smoke": {
        "02_family": {"members": ["f32x2"], "train_steps": 20, "batch_size": 8,
                      "n_test_per_ops": 2, "max_ops": 3},
        "03_sampling": {"n_problems_per_ops": 1, "n_samples": 4, "hard_n_problems": 1,
                        "hard_n_samples": 4, "batch_size": 0},
    },
}
STAGES = ("02_family", "03_sampling")


def check_profile(size: str, base: str = "gpu") -> dict:
    """The profile the check runs: ``base`` with the size's overrides."""
    from ttc.profiles import load_profile

    if size not in SIZES:
        raise ConfigError(f"unknown size {size!r}; allowed: {', '.join(SIZES)}")
    profile = load_profile(base)
    for chapter, params in SIZES[size].items():
        profile[chapter] = {**profile[chapter], **params}
    return profile


def _environment(device: str, dtype: str) -> dict:
    import torch
    import transformers

    from ttc.devices import dtype_name, memory_budget, resolve_device, resolve_dtype

    device = resolve_device(device)
    info = {"device": device, "precision": dtype_name(resolve_dtype(dtype, device)),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version(),
            "memory_budget_bytes": memory_budget(device)}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run_check(out: str | Path, size: str = "check", base: str = "gpu") -> pd.DataFrame:
    """Run chapters 2 and 3 under the check's profile; write timings, environment and
    tables into ``out``; return the timings."""
    from ttc.cache import write_frame
    from ttc.pipeline import chapter_result

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    profile_file = out / "profile.yaml"
    profile_file.write_text(yaml.safe_dump(check_profile(size, base), sort_keys=False))
    rows, results = [], {}
    for stage in STAGES:
        start = time.perf_counter()
        results[stage] = chapter_result(stage, profile_file, progress=True, quiet=True)
        rows.append({"stage": stage, "seconds": time.perf_counter() - start})
        for name, frame in results[stage].tables.items():
            write_frame(frame, out / stage / f"{name}.csv")
    members = results["02_family"]["members"]
    rows += [{"stage": f"train {m}", "seconds": s}
             for m, s in zip(members["model"], members["train_seconds"], strict=True)]
    timings = pd.DataFrame(rows)
    write_frame(timings, out / "timings.csv")
    fconfig = results["02_family"].config
    environment = {**_environment(fconfig.device, fconfig.dtype), "size": size,
                   "base_profile": base}
    (out / "environment.json").write_text(json.dumps(environment, indent=1))
    return timings
