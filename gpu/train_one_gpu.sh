#!/usr/bin/env bash
# Usage: bash gpu/train_one_gpu.sh CONFIG DATA_DIR MODEL_DIR [more flags]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python official/train.py --strategy=one_device --config="${1:?config}" \
  --data_dir="${2:?data_dir}" --model_dir="${3:?model_dir}" "${@:4}"
