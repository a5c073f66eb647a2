"""EfficientNet-RS against EfficientNet: the same network trained at a reduced resolution
(ResNet-RS paper, section 7.2), in one process.

Times training steps (forward, backward, SGD update, in one tf.function) of EfficientNet-B`k`
at its original resolution and at the EfficientNet-RS resolution, the two runs alternating
round by round so that machine noise hits both alike. Prints images/second (median of the
rounds), multiply-adds per image, and the ratios RS / original (> 1.0: RS trains faster).

    python benchmarks/efficientnet_rs_speed.py --variant=b0 --rs_size=192 [--batch_size 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

from official.configs import recipes  # noqa: E402
from official.training.speed import benchmark_model, machine_description  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="b0")
    parser.add_argument("--rs_size", type=int, default=192, help="the reduced resolution")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="training steps per timed call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per round")
    args = parser.parse_args()

    original = recipes.get(f"efficientnet_{args.variant}").data.image_size
    # Validates the pair the way train.py would (variant known, resolution reduced).
    rs = recipes.get(f"efficientnet_rs_{args.variant}_i{args.rs_size}").data.image_size
    name = f"efficientnet_{args.variant}"
    rates: dict[int, list[float]] = {original: [], rs: []}
    macs: dict[int, int] = {}
    for _ in range(args.rounds):
        for size in (original, rs):
            result = benchmark_model(
                name, size, args.batch_size, steps=args.steps, warmup=1, repeats=args.repeats
            )
            rates[size].append(result.train_images_per_second)
            macs[size] = result.macs
            keras.backend.clear_session()

    print(machine_description())
    print(
        f"{name}, batch {args.batch_size}, {args.rounds} rounds x {args.repeats} calls x "
        f"{args.steps} training steps, float32"
    )
    for size, values in rates.items():
        print(
            f"{size:4d} px  {statistics.median(values):7.2f} img/s (min {min(values):.2f}, "
            f"max {max(values):.2f})  {macs[size] / 1e9:.3f} GMACs/image"
        )
    speed = statistics.median(rates[rs]) / statistics.median(rates[original])
    print(f"ratio RS({rs}) / original({original}) training speed: {speed:.3f}")
    print(f"ratio original / RS multiply-adds: {macs[original] / macs[rs]:.3f}")


if __name__ == "__main__":
    main()
