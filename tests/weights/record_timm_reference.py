"""Writes tests/weights/timm_reference.json.gz: timm's own logits and features_only outputs for
the weights of tests/weights/reference_weights.py, which the tests compare with our converted
models (tests/weights/test_timm_reference.py). timm's torchvision dependency has no build that
loads with the CPU-only torch 2.13 the test requirements pin, so timm cannot run inside the
suite; this script runs once in a separate venv and the file it writes is committed:

    python3 -m venv /tmp/timm && /tmp/timm/bin/pip install torch==2.14.1 torchvision==0.29.1 \
        timm==1.0.31 numpy
    /tmp/timm/bin/python tests/weights/record_timm_reference.py
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile

import timm
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_weights  # noqa: E402

# One timm model per layout our converter maps (and both EfficientNet twins).
NAMES = (
    "resnet18 resnet50d seresnet50 resnext50_32x4d resnet50_gn resnetrs50 resnest14d "
    "dm_nfnet_f0 efficientnet_b0 tf_efficientnet_b0 mnasnet_100 semnasnet_100"
).split()
SIZE = 64
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "timm_reference.json.gz")


def load(name: str, **kwargs) -> torch.nn.Module:
    """timm's `name` with the reference weights, loaded the way timm loads pretrained files:
    into the classifier (strictly) before features_only wraps it (its flattened modules
    rename the stem's keys, so loading a state dict into the wrapper would miss them)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.safetensors")
        save_file(reference_weights.state_dict(name), path)
        overlay = dict(file=path, num_classes=1000)
        return timm.create_model(
            name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs
        ).eval()


def main() -> None:
    x = torch.from_numpy(reference_weights.image(SIZE).transpose(0, 3, 1, 2).copy())
    table = {"timm": timm.__version__, "torch": torch.__version__, "size": SIZE, "models": {}}
    for name in NAMES:
        with torch.no_grad():
            logits = load(name)(x).numpy()[0]
            backbone = load(name, features_only=True)
            features = backbone(x)
        entry = {"logits": logits.tolist(), "features": []}
        info = backbone.feature_info
        for feature, channels, reduction in zip(
            features, info.channels(), info.reduction(), strict=True
        ):
            nhwc = feature.numpy().transpose(0, 2, 3, 1)
            sums, scales = reference_weights.projections(nhwc)
            entry["features"].append(
                {
                    "channels": channels,
                    "reduction": reduction,
                    "shape": list(nhwc.shape),
                    "projections": sums.tolist(),
                    "scales": scales.tolist(),
                }
            )
        table["models"][name] = entry
        print(name, logits.shape, [f["shape"] for f in entry["features"]], flush=True)
    with gzip.open(OUT, "wt") as f:
        json.dump(table, f)


if __name__ == "__main__":
    main()
