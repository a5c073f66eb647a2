#!/usr/bin/env bash
# Create a TPU VM and install this repository on it.
# Usage: TPU_NAME=resnet-rs ZONE=europe-west4-a ACCELERATOR=v3-8 bash tpu/create_tpu_vm.sh
set -euo pipefail
: "${TPU_NAME:?set TPU_NAME}" "${ZONE:?set ZONE}"
ACCELERATOR=${ACCELERATOR:-v3-8}
RUNTIME=${RUNTIME:-tpu-vm-tf-2.21.0-pjrt}
gcloud compute tpus tpu-vm create "$TPU_NAME" --zone="$ZONE" \
  --accelerator-type="$ACCELERATOR" --version="$RUNTIME"
repo_root=$(cd "$(dirname "$0")/.." && pwd)
gcloud compute tpus tpu-vm scp --recurse --zone="$ZONE" "$repo_root" "$TPU_NAME":~/resnet-family
gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone="$ZONE" --command \
  "cd ~/resnet-family && pip install -r requirements.txt"
