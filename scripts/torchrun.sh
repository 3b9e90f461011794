#!/usr/bin/env bash
# DDP under torchrun: NPROC processes on this node, any torchrun flag passed through (multi-node included).
#
#   ./scripts/torchrun.sh NPROC [torchrun flags ...] main.py fit --config X.yaml [--key=value ...]
#
# One node, 4 processes:   ./scripts/torchrun.sh 4 main.py fit --config configs/digits.yaml
# Two nodes (run on each): ./scripts/torchrun.sh 4 --nnodes=2 --node_rank=0|1 \
#                              --master_addr=HOST0 --master_port=29500 main.py fit --config X.yaml
#   or with a rendezvous:  ./scripts/torchrun.sh 4 --nnodes=2 --rdzv_backend=c10d \
#                              --rdzv_endpoint=HOST0:29500 --rdzv_id=myjob main.py fit --config X.yaml
#
# The script adds --trainer.devices=NPROC --trainer.num_nodes=NNODES, which Lightning needs to equal torchrun's
# world size. --nnodes must be a fixed count (not an elastic MIN:MAX range). PYTHON picks the interpreter
# (default: .venv/bin/python when it exists, else python3).
set -euo pipefail

if [[ $# -lt 2 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 NPROC [torchrun flags ...] main.py SUBCOMMAND [args ...]" >&2
    exit 2
fi
nproc=$1
shift

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${PYTHON:-} ]]; then
    if [[ -x $root/.venv/bin/python ]]; then PYTHON=$root/.venv/bin/python; else PYTHON=python3; fi
fi

# Everything up to the script (the first argument ending in .py) belongs to torchrun.
flags=()
while [[ $# -gt 0 && $1 != *.py ]]; do
    flags+=("$1")
    shift
done
if [[ $# -eq 0 ]]; then
    echo "$0: no script given (expected main.py after the torchrun flags)" >&2
    exit 2
fi

nnodes=1
rendezvous=0
for i in "${!flags[@]}"; do
    case ${flags[$i]} in
        --nnodes=*) nnodes=${flags[$i]#*=} ;;
        --nnodes) nnodes=${flags[$((i + 1))]} ;;
        --rdzv*|--master*) rendezvous=1 ;;
    esac
done
if [[ ! $nnodes =~ ^[0-9]+$ ]]; then
    echo "$0: --nnodes must be a number of nodes, got '$nnodes'" >&2
    exit 2
fi
# A single node without rendezvous flags: let torchrun pick a free port, so several jobs can share a machine.
if [[ $nnodes -eq 1 && $rendezvous -eq 0 ]]; then
    flags+=(--standalone)
fi

exec "$PYTHON" -m torch.distributed.run --nproc_per_node="$nproc" "${flags[@]}" "$@" \
    --trainer.devices="$nproc" --trainer.num_nodes="$nnodes"
