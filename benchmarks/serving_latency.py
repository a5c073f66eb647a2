"""Latency and throughput of the exported serving_default signature on this CPU.

Exports resnet50 (1000 classes, random weights: speed does not depend on their values) at 224,
then times, alternating in the same process:
  signature  serving_default on real JPEG bytes (decode + center crop + resize in the graph)
  keras      the Keras model called directly on already-preprocessed tensors
at batch 1 and batch 32. Reports p50/p99 latency, images/second and the ratio of the two
(the cost of in-graph decoding and preprocessing).

    python benchmarks/serving_latency.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks import sample_photos  # noqa: E402
from official import models  # noqa: E402
from official.data import preprocess  # noqa: E402
from official.serving import image  # noqa: E402
from official.training.speed import machine_description  # noqa: E402


def skimage_data():
    return sample_photos.skimage_data("serving_latency.py")


def photos(n: int) -> list[bytes]:
    skdata = skimage_data()
    sources = [skdata.chelsea(), skdata.coffee(), skdata.rocket(), skdata.astronaut()]
    out = []
    for i in range(n):
        buffer = io.BytesIO()
        Image.fromarray(sources[i % 4]).resize((500, 375)).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    skimage_data()  # before the minutes of building and exporting

    model = models.get(args.model)
    path = image.export_model(model, tempfile.mkdtemp(), args.image_size)
    serving = tf.saved_model.load(path).signatures["serving_default"]
    keras_call = tf.function(lambda x: tf.nn.softmax(model(x, training=False)))

    print(machine_description())
    print(f"{args.model} at {args.image_size}; {args.repeats} timed calls each, 3 warm-up calls")
    print(f"{'batch':>5} {'path':10} {'p50 ms':>9} {'p99 ms':>9} {'img/s':>8}")
    for batch in (1, 32):
        data = tf.constant(photos(batch))
        images = tf.stack([preprocess.preprocess_for_eval(d, args.image_size) for d in data])
        calls = {
            "signature": lambda d=data: serving(image_bytes=d),
            "keras": lambda x=images: keras_call(x),
        }
        times = {k: [] for k in calls}
        for fn in calls.values():
            for _ in range(3):
                fn()
        for _ in range(args.repeats):
            for name, fn in calls.items():
                start = time.perf_counter()
                out = fn()
                np.asarray(out["probabilities"] if isinstance(out, dict) else out)
                times[name].append(time.perf_counter() - start)
        medians = {}
        for name, values in times.items():
            values = np.array(values) * 1000
            medians[name] = np.median(values)
            print(
                f"{batch:5d} {name:10} {medians[name]:9.1f} {np.percentile(values, 99):9.1f} "
                f"{batch / np.median(values) * 1000:8.1f}"
            )
        print(
            f"batch {batch}: signature / keras latency = "
            f"{medians['signature'] / medians['keras']:.3f}"
        )


if __name__ == "__main__":
    main()
