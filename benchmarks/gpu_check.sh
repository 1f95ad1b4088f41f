#!/usr/bin/env bash
# GPU figures for docs/performance.md: one e5 epoch with training.device=cuda, the test split predicted
# with --device cuda and on the CPU, peak GPU memory, label agreement (benchmarks/gpu_check.py says how).
# Run from the project folder on a machine with a CUDA GPU; stops with one line (status 2) without one.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec python benchmarks/gpu_check.py "$@"
