#!/usr/bin/env bash
# The GPU check: train and sample the gpu profile's family, timed, and write the timings and
# result tables into OUT (docs/benchmarks.md). Meant for one H200 (about 8 minutes); any
# extra arguments go to `ttc gpu-check` (e.g. --size smoke runs in seconds on a CPU).
#   benchmarks/gpu_check.sh OUT [--size check|smoke]
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: benchmarks/gpu_check.sh OUT [--size check|smoke]" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then  # the project's environment (make install), else python3
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
exec "$PYTHON" -m ttc gpu-check "$@"
