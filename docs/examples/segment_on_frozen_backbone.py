"""A segmentation head trained with `model.fit` on a frozen, pretrained-converted backbone
(docs/downstream.md walks through it; tests/test_downstream_example.py runs it small).

    pip install -e .          # once, from the checkout, so that `import official` works here
    python -m official.weights convert --source=timm --file=resnet18.safetensors \
        --model=resnet18 --out=resnet18.weights.h5
    python docs/examples/segment_on_frozen_backbone.py --weights=resnet18.weights.h5

The data is a toy set drawn here (filled squares and discs on noise; each pixel's class is the
shape covering it), so the script runs anywhere; swap `toy_segmentation_set` for your own
(image, mask) arrays or a `tf.data.Dataset` of them.
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

from official import models
from official.layers.input_statistics import MEAN_RGB, STDDEV_RGB

CLASSES = ("background", "square", "disc")


def toy_segmentation_set(count: int, size: int, seed: int = 0):
    """count images [count, size, size, 3] in pixel units (0..255) and their masks
    [count, size, size] of class indices into CLASSES."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 80, (count, size, size, 3)).astype("float32")
    masks = np.zeros((count, size, size), "int32")
    rows, cols = np.mgrid[:size, :size]
    for i in range(count):
        for shape in rng.permutation([1, 2]):
            radius = rng.integers(size // 8, size // 4)
            row, col = rng.integers(radius, size - radius, 2)
            if shape == 1:
                inside = (abs(rows - row) <= radius) & (abs(cols - col) <= radius)
            else:
                inside = (rows - row) ** 2 + (cols - col) ** 2 <= radius**2
            masks[i][inside] = shape
            images[i][inside] = rng.uniform(120, 255, 3)
    return images, masks


def segmentation_model(backbone_name: str, weights: str | None, size: int) -> keras.Model:
    """A frozen backbone's P3..P5 features, merged top-down (an FPN-style head: 1x1 lateral
    convolutions, upsample and add), then per-pixel logits upsampled to the input size."""
    backbone = models.get(
        backbone_name,
        weights=weights,
        features_only=True,
        out_indices=("P3", "P4", "P5"),
        input_shape=(size, size, 3),
    )
    # A frozen Keras layer also runs its BatchNormalization in inference mode, so the
    # backbone's moving statistics stay those the weights were trained with.
    backbone.trainable = False

    pixels = keras.Input((size, size, 3), name="pixels")
    # The backbone's input is normalized as in training (official/data/preprocess.py).
    x = keras.layers.Normalization(
        mean=list(MEAN_RGB), variance=[s * s for s in STDDEV_RGB], name="normalize"
    )(pixels)
    features = backbone(x, training=False)
    merged = None
    for key in ("P5", "P4", "P3"):
        lateral = keras.layers.Conv2D(64, 1, name=f"lateral_{key}")(features[key])
        merged = lateral if merged is None else lateral + keras.layers.UpSampling2D(2)(merged)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="merge")(merged)
    x = keras.layers.Conv2D(len(CLASSES), 1, name="logits")(x)
    logits = keras.layers.UpSampling2D(8, interpolation="bilinear", name="to_input_size")(x)
    return keras.Model(pixels, logits, name=f"{backbone_name}_segmenter")


def train(backbone_name="resnet18", weights=None, size=128, images=256, epochs=10, batch=16):
    """Builds, trains and returns (model, history) on the toy set."""
    model = segmentation_model(backbone_name, weights, size)
    x, y = toy_segmentation_set(images, size)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.MeanIoU(len(CLASSES), sparse_y_pred=False)],
    )
    history = model.fit(x, y, batch_size=batch, epochs=epochs, verbose=2)
    return model, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--weights", default=None, help="a converted .weights.h5 (or any source)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    train(args.backbone, args.weights, args.size, epochs=args.epochs)


if __name__ == "__main__":
    main()
