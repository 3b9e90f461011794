#!/usr/bin/env bash
# TensorBoard over every run in RUN_ROOT (result/ by default): each run writes RUN/tensorboard/.
# Open http://127.0.0.1:6006.
#
#   ./scripts/run_tensorboard.sh [RUN_ROOT] [more `tensorboard` options]
#   HOST=0.0.0.0 PORT=6007 ./scripts/run_tensorboard.sh    # other address (0.0.0.0 opens it to your network)
set -euo pipefail

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-6006}"
PROJECT="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(realpath -m "${1:-$PROJECT/result}")"
shift || true

mkdir -p "$ROOT"
exec tensorboard --logdir "$ROOT" --host "$HOST" --port "$PORT" "$@"
