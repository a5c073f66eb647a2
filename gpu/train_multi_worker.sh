#!/usr/bin/env bash
# Usage: WORKERS=host1:port,host2:port INDEX=0 bash gpu/train_multi_worker.sh CONFIG DATA_DIR MODEL_DIR
set -euo pipefail
: "${WORKERS:?comma-separated host:port list, the same on every box}" "${INDEX:?this box index}"
TF_CONFIG=$(python3 -c '
import json, sys
workers, index = sys.argv[1].split(","), int(sys.argv[2])
print(json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
' "$WORKERS" "$INDEX")
export TF_CONFIG
cd "$(dirname "$0")/.."
exec python official/train.py --strategy=multi_worker --config="${1:?config}" \
  --data_dir="${2:?data_dir}" --model_dir="${3:?model_dir}" "${@:4}"
