"""Batch-1 latency on one CPU thread: LiteRT float32 and int8 files against the Keras model and a
SavedModel of it, for the mobile peers and resnet50 at 224 (docs/litert.md).

    python benchmarks/litert_latency.py [--models=mnasnet_a1,shufflenet_g3] [--repeats 100]

Each model has 1000 classes and its initial weights (speed does not depend on their values),
with BN statistics set from the calibration images (initial statistics can leave a ReLU's
output all zero, and XNNPACK then refuses the int8 file: docs/litert.md); the int8 file is
calibrated on --calibration images of the bundled digits (upscaled to 224).
Every path gets the same 224x224 image: the Keras model and the SavedModel already normalized,
the .tflite files as pixels (they normalize inside). TensorFlow runs with one intra-op and one
inter-op thread, LiteRT with num_threads=1. The four paths are timed in turn, in blocks of
--block consecutive calls (each block after one untimed call, so its caches are warm as in an
app that classifies frame after frame), so that a machine shared with other work slows them
alike. Prints p50 / p99 in
milliseconds and the ratio of float32 LiteRT to int8 LiteRT p50 (the target: >= 2 for
mnasnet_a1).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from official.console import quiet_start  # noqa: E402

tf = quiet_start.import_tensorflow()

import numpy as np  # noqa: E402

from official import models  # noqa: E402
from official.data import preprocess, samples  # noqa: E402
from official.data.eval_preprocessing import EvalPreprocessing  # noqa: E402
from official.serving import litert  # noqa: E402
from official.training.speed import machine_description  # noqa: E402

MODELS = ("mnasnet_a1", "shufflenet_g3", "efficientnet_b0", "resnet50")


def set_up(script: str) -> None:
    """Exits with one line naming `script` and the install when ai-edge-litert is missing;
    then gives TensorFlow one intra-op and one inter-op thread (before it starts: not at import,
    so that importing this file leaves a running TensorFlow alone)."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        sys.exit(
            f"error: benchmarks/{script} runs .tflite files with ai-edge-litert, which the main "
            "install leaves out: pip install -r requirements-test.txt"
        )
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def litert_call(path: str, image: np.ndarray):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    data = litert.quantized_input(image[None], inp)

    def call():
        interpreter.set_tensor(inp["index"], data)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return call


def set_bn_statistics(model, images: np.ndarray) -> None:
    """Every BatchNormalization's moving mean and variance become those of `images` (one
    training-mode pass with momentum 0; no other weight changes)."""
    import keras

    layers = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    saved = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(images, training=True)
    for layer, momentum in zip(layers, saved, strict=True):
        layer.momentum = momentum


def calibration_pixels(size: int, count: int) -> np.ndarray:
    """`count` eval-cropped images of the bundled sample set's training split, pixels 0..255."""
    return litert.calibration_images(
        samples.build(), "train", EvalPreprocessing(size, crop_padding=0), count
    )


def model_for_timing(name: str, size: int, calibration: np.ndarray):
    """Network `name` at `size`, initial weights, BN statistics of 16 calibration images (the
    module docstring says why)."""
    model = models.get(name, input_shape=(size, size, 3))
    set_bn_statistics(model, preprocess.normalize(calibration[:16]))
    return model


def time_in_turn(calls: dict, repeats: int, block: int) -> dict[str, list[float]]:
    """Seconds per call of each of `calls`: `repeats` timed calls each, taken round-robin in
    blocks of `block` consecutive calls of one path, each block after one untimed call."""
    for call in calls.values():  # tracing, compilation, the interpreter's first allocation
        for _ in range(5):
            call()
    times = {path: [] for path in calls}
    while any(len(t) < repeats for t in times.values()):
        for path, call in calls.items():
            call()
            for _ in range(min(block, repeats - len(times[path]))):
                start = time.perf_counter()
                call()
                times[path].append(time.perf_counter() - start)
    return times


def percentiles(times: list[float]) -> tuple[float, float]:
    return 1000 * float(np.percentile(times, 50)), 1000 * float(np.percentile(times, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--calibration", type=int, default=50)
    args = parser.parse_args()
    set_up("litert_latency.py")
    size = args.image_size

    calibration = calibration_pixels(size, args.calibration)
    pixels = calibration[0]
    normalized = preprocess.normalize(pixels[None]).numpy()
    print(machine_description())
    print(
        f"batch 1 at {size}, one thread; {args.repeats} timed calls a path in blocks of "
        f"{args.block}, in turn; "
        f"int8 calibrated on {len(calibration)} images"
    )
    print(f"{'model':16} {'path':14} {'p50 ms':>9} {'p99 ms':>9}")
    for name in args.models.split(","):
        model = model_for_timing(name, size, calibration)
        keras_call = tf.function(lambda x, m=model: m(x, training=False))
        with tempfile.TemporaryDirectory() as out:
            saved = os.path.join(out, "saved_model")
            model.export(saved, format="tf_saved_model", verbose=False)
            loaded = tf.saved_model.load(saved)  # kept: its functions need its variables
            paths = litert.export_litert(model, out, size, ["float32", "int8"], calibration)
            calls = {
                "keras": lambda f=keras_call: f(normalized).numpy(),
                "saved_model": lambda f=loaded.serve: f(normalized).numpy(),
                "litert float32": litert_call(paths["float32"], pixels),
                "litert int8": litert_call(paths["int8"], pixels),
            }
            p50 = {}
            for path, times in time_in_turn(calls, args.repeats, args.block).items():
                p50[path], p99 = percentiles(times)
                print(f"{name:16} {path:14} {p50[path]:9.2f} {p99:9.2f}", flush=True)
        ratio = p50["litert float32"] / p50["litert int8"]
        print(f"{name:16} ratio litert float32 / int8 p50: {ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()
