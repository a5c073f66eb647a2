#!/usr/bin/env bash
# Create a TPU VM (or a multi-host slice) with the TensorFlow runtime and install this repository
# on every host, keeping the image's TensorFlow (tpu/install.py).
#
#   TPU_NAME=rs50 ZONE=us-west4-a bash tpu/create_tpu_vm.sh                     # v5litepod-8
#   TPU_NAME=rs50 ZONE=us-central2-b ACCELERATOR=v4-8 bash tpu/create_tpu_vm.sh
#
# ACCELERATOR: v5litepod-8 (default: TPU v5e, 8 chips, one host), v4-8, v6e-8, v5p-8, ... A
# count above 8 is a multi-host slice (v4-32, v5litepod-16): the runtime gets the -pod suffix.
# TF_VERSION: the runtime's TensorFlow (default: requirements.txt's pin); see the versions on
# offer with `gcloud compute tpus versions list --zone=$ZONE`. RUNTIME overrides the whole name.
# SPOT=1 creates a Spot TPU (cheaper, can be preempted). DRY_RUN=1 prints the commands only.
set -euo pipefail
: "${TPU_NAME:?set TPU_NAME}" "${ZONE:?set ZONE (v5e: us-west4-a, us-central1-a, ...; v4: us-central2-b)}"
repo_root=$(cd "$(dirname "$0")/.." && pwd)
ACCELERATOR=${ACCELERATOR:-v5litepod-8}
TF_VERSION=${TF_VERSION:-$(sed -n 's/^tensorflow==//p' "$repo_root/requirements.txt")}

# Chips (v5e, v6e) or TensorCores (v2-v5p) after the dash; more than 8 spans several hosts.
count=${ACCELERATOR##*-}
if ! [[ "$count" =~ ^[0-9]+$ ]]; then
  echo "error: ACCELERATOR=$ACCELERATOR: expected a type like v5litepod-8 or v4-32" >&2
  exit 2
fi
if (( count > 8 )); then pod="-pod"; else pod=""; fi
RUNTIME=${RUNTIME:-tpu-vm-tf-${TF_VERSION}${pod}-pjrt}

run() {
  echo "+ $*"
  if [[ -z "${DRY_RUN:-}" ]]; then "$@"; fi
}

spot=()
if [[ -n "${SPOT:-}" ]]; then spot=(--spot); fi
run gcloud compute tpus tpu-vm create "$TPU_NAME" --zone="$ZONE" \
  --accelerator-type="$ACCELERATOR" --version="$RUNTIME" "${spot[@]}"
# The working tree without virtualenvs, runs and git history.
archive=$(mktemp --suffix=.tar.gz)
run tar -czf "$archive" -C "$repo_root" --exclude=.git --exclude='.venv*' --exclude=runs \
  --exclude=__pycache__ .
run gcloud compute tpus tpu-vm scp --worker=all --zone="$ZONE" \
  "$archive" "$TPU_NAME":resnet-family.tar.gz
run gcloud compute tpus tpu-vm ssh "$TPU_NAME" --worker=all --zone="$ZONE" --command="mkdir -p \
  ~/resnet-family && tar -xzf resnet-family.tar.gz -C ~/resnet-family && cd ~/resnet-family \
  && python3 tpu/install.py ${INSTALL_FLAGS:-}"
