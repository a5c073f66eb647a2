"""The timm side of benchmarks/peer_speed.py, run by it with an interpreter that has timm and
torch (`--timm_python`); never imports TensorFlow (its thread pools slow PyTorch on a CPU).

Prints one JSON object: for each timm model, training images/s in float32 and under
torch.autocast(bfloat16) (SGD, cross-entropy, the same batch every step), batch-1 latency (ms,
median) and batch-32 inference images/s, float32, eval mode, torch.inference_mode. Rounds
alternate between the two precisions, the first call of each excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import timm
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.rounds import alternate  # noqa: E402


def train_step(model, images, labels, bfloat16: bool):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return float(loss)

    return step


def measure(name: str, image_size: int, batch: int, rounds: int) -> dict:
    torch.manual_seed(0)
    images = torch.rand(batch, 3, image_size, image_size)
    labels = torch.randint(0, 100, (batch,))
    models = {p: timm.create_model(name, num_classes=100).train() for p in ("f32", "bf16")}
    calls = {
        "f32": train_step(models["f32"], images, labels, False),
        "bf16": train_step(models["bf16"], images, labels, True),
    }
    seconds = alternate(calls, rounds)
    model = models["f32"].eval()
    one, many = images[:1], torch.rand(32, 3, image_size, image_size)
    with torch.inference_mode():
        latency = alternate({"b1": lambda: model(one), "b32": lambda: model(many)}, rounds)
    return {
        "train_f32": batch / seconds["f32"],
        "train_bf16": batch / seconds["bf16"],
        "latency_b1_ms": latency["b1"] * 1e3,
        "infer_b32": 32 / latency["b32"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", required=True, help="timm names, comma-separated")
    parser.add_argument("--image_size", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {
        "versions": f"timm {timm.__version__}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "models": {
            name: measure(name, args.image_size, args.batch_size, args.rounds)
            for name in args.models.split(",")
        },
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
