#!/usr/bin/env bash
# One prepared GPU check (under 8 minutes on one GPU), printed as one table: ResNet-50 bf16-mixed
# channels-last images/s, raw loop vs `main.py fit` (eager and compiled, same seed and loss), 100 steps with
# torch.cuda.set_sync_debug_mode("error") on steps that do not log, and `pytest -m gpu`.
#   scripts/gpu_check.sh          # on a machine with a CUDA device
#   scripts/gpu_check.sh --cpu    # dry run with a tiny net on the CPU (CI runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}"
exec "$PYTHON" scripts/gpu_check.py "$@"
