#!/usr/bin/env bash
# Train a recipe on a TPU. Usage: TPU_NAME=... DATA_DIR=gs://... MODEL_DIR=gs://... bash tpu/train.sh resnetrs50_i160
set -euo pipefail
: "${TPU_NAME:?set TPU_NAME (or local on a TPU VM)}" "${DATA_DIR:?set DATA_DIR}" "${MODEL_DIR:?set MODEL_DIR}"
CONFIG=${1:-resnetrs50_i160}
cd "$(dirname "$0")/.."
exec python official/train.py --strategy=tpu --tpu="$TPU_NAME" --config="$CONFIG" \
  --data_dir="$DATA_DIR" --model_dir="$MODEL_DIR/$CONFIG" "${@:2}"
