#!/usr/bin/env bash
# MLflow UI and tracking server over the runs training stored in RUN_ROOT (result/ by default):
# the store sqlite:///RUN_ROOT/mlflow.db, artifacts under RUN_ROOT/mlartifacts. Open http://127.0.0.1:5000.
#
#   ./scripts/run_mlflow.sh [RUN_ROOT] [more `mlflow server` options]
#   HOST=0.0.0.0 PORT=8080 ./scripts/run_mlflow.sh    # other address (0.0.0.0 opens it to your network)
#
# Training can also log to this server: --trainer.logger.init_args.tracking_uri=http://127.0.0.1:5000, or
# MLFLOW_TRACKING_URI=http://127.0.0.1:5000. Ctrl+C stops the server and the worker processes it started.
set -euo pipefail

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
WORKERS="${WORKERS:-1}"
PROJECT="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(realpath -m "${1:-$PROJECT/result}")"
shift || true

mkdir -p "$ROOT/mlartifacts"
echo "MLflow over $ROOT at http://$HOST:$PORT" >&2
exec mlflow server \
    --host "$HOST" --port "$PORT" --workers "$WORKERS" \
    --backend-store-uri "sqlite:///$ROOT/mlflow.db" \
    --artifacts-destination "$ROOT/mlartifacts" \
    "$@"
