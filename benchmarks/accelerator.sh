#!/usr/bin/env bash
# The GPU figures the project records, in one run on one machine, written to $OUT_DIR/accelerator.md
# (device, driver, versions, commands, output) to append to benchmarks/RESULTS.md:
#   1. training img/s of resnet50 at 224 (batch 256, mixed float16 + XLA), resnetrs50 at 160 and
#      efficientnet_b0 at 224, each against keras.applications in the same process;
#   2. official/train.py, 200 steps of resnet50 on synthetic data with MirroredStrategy, and
#      keras.applications.ResNet50 + model.fit on the same settings.
#
#   bash benchmarks/accelerator.sh [OUT_DIR]      # default runs/accelerator
#   TINY=1 bash benchmarks/accelerator.sh DIR     # CPU check of the script: 32 px, batch 2, a few
#                                                 # steps, float32, no XLA; its numbers mean nothing
#   PAIRS=resnet50 ...                            # only some of the model pairs
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-runs/accelerator}
PYTHON=${PYTHON:-python}
mkdir -p "$OUT_DIR"
if [[ -n "${TINY:-}" ]]; then
  steps=4 loop=2 batch=2 size=32 classes=10 precision=float32 xla=false rounds=1 warmup=1
else
  steps=200 loop=50 batch=256 size=224 classes=1000 precision=float16 xla=true rounds=5 warmup=2
fi
common=(--batch_size="$batch" --num_classes="$classes" --precision="$precision"
        --rounds="$rounds" --warmup="$warmup")
if [[ "$xla" == true ]]; then common+=(--xla); else common+=(--no-xla); fi
bench=("${common[@]}")
if [[ -n "${TINY:-}" ]]; then bench+=(--image_size="$size" --steps=1); fi
if [[ -n "${PAIRS:-}" ]]; then bench+=(--pairs="$PAIRS"); fi
report="$OUT_DIR/accelerator.md"
log="$OUT_DIR/train_py.log"

{
  echo "## benchmarks/accelerator.sh, $(date -u +%Y-%m-%d)${TINY:+ (TINY: a CPU check of the script, not a measurement)}"
  echo
  echo '```'
  echo "\$ ${TINY:+TINY=1 }bash benchmarks/accelerator.sh $OUT_DIR"
  if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  else
    echo "nvidia-smi: not found (no NVIDIA driver on this machine)"
  fi
  "$PYTHON" --version
} > "$report"

"$PYTHON" benchmarks/accelerator_speed.py models "${bench[@]}" | tee -a "$report"

run_dir="$OUT_DIR/train_py_run"
rm -rf "$run_dir"
override="{\"model.kwargs\": {\"stride_in_1x1\": true}, \"data.source\": \"synthetic\",
  \"data.image_size\": $size, \"data.num_classes\": $classes, \"runtime.xla\": $xla,
  \"train.max_checkpoints\": 1}"
train_cmd=("$PYTHON" official/train.py --config=resnet_main --strategy=mirrored --mode=train
  --model_dir="$run_dir" --train_steps="$steps" --iterations_per_loop="$loop"
  --train_batch_size="$batch" --precision="$precision" --params_override="$override")
{ printf '$'; printf ' %q' "${train_cmd[@]}"; echo; } | tee -a "$report"
"${train_cmd[@]}" > "$log" 2>&1 || { tail -20 "$log"; exit 1; }
"$PYTHON" benchmarks/accelerator_speed.py train_log "$log" | tee -a "$report"
"$PYTHON" benchmarks/accelerator_speed.py fit "${common[@]}" --image_size="$size" \
  --steps="$loop" | tee -a "$report"
echo '```' >> "$report"
echo "report: $report"
