#!/usr/bin/env bash
# Train on the TPU this VM is attached to. Run it on the TPU VM (on a multi-host slice: on
# worker 0 only, with TPU_NAME set to the slice's name).
#
#   DATA_DIR=gs://$BUCKET/imagenet MODEL_DIR=gs://$BUCKET/runs bash tpu/train.sh resnetrs50_i160 [flags]
#
# The run writes to $MODEL_DIR/<config>; rerunning resumes from its latest checkpoint. Extra
# flags go to official/train.py (e.g. --mode=train when a continuous-eval job evaluates).
set -euo pipefail
: "${DATA_DIR:?set DATA_DIR (gs://...)}" "${MODEL_DIR:?set MODEL_DIR (gs://...)}"
CONFIG=${1:-resnetrs50_i160}
TPU_NAME=${TPU_NAME:-local}
if [[ "$TPU_NAME" == local ]]; then
  # One host: TensorFlow drives the chips through the PJRT plugin of the image's libtpu.
  export NEXT_PLUGGABLE_DEVICE_USE_C_API=${NEXT_PLUGGABLE_DEVICE_USE_C_API:-true}
  export TF_PLUGGABLE_DEVICE_LIBRARY_PATH=${TF_PLUGGABLE_DEVICE_LIBRARY_PATH:-/lib/libtpu.so}
else
  # A multi-host slice: this process is the client of every host's TPU runtime.
  export TPU_LOAD_LIBRARY=0
fi
cd "$(dirname "$0")/.."
exec python3 official/train.py --config="$CONFIG" --tpu="$TPU_NAME" --strategy=tpu \
  --data_dir="$DATA_DIR" --model_dir="$MODEL_DIR/$CONFIG" "${@:2}"
