"""The official TF ResNet-RS checkpoint layout (tensorflow/tpu resnet_model.py, TF1 tf.layers):
a checkpoint written with those names converts strictly, from the moving averages."""

import numpy as np
import pytest
import tensorflow as tf

from official import models
from official.weights import ConversionError

TINY = dict(block_repeats=(1, 1, 1, 1), width_multiplier=0.25, input_shape=(32, 32, 3))


def _official_names():
    """Our layer -> the official variable scope, counted by hand from resnet_model.py for one
    block per stage: the stem's 4 convs and batch norms; per block the projection shortcut's
    conv and BN first, then conv1/bn, conv2/bn, conv3/bn, then the SE's reduce and expand convs
    (resnet_layers.squeeze_excitation); `dense` last."""
    names = {}
    for i in range(4):
        names[f"stem_conv{i + 1}"] = "conv2d" if i == 0 else f"conv2d_{i}"
        names[f"stem_bn{i + 1}"] = "batch_normalization" if i == 0 else f"batch_normalization_{i}"
    for s in range(4):
        block = f"stage{s + 2}_block1_"
        convs = ["shortcut_conv", "conv1", "conv2", "conv3", "se/reduce", "se/expand"]
        for j, part in enumerate(convs):
            names[block + part] = f"conv2d_{4 + 6 * s + j}"
        for j, part in enumerate(["shortcut_bn", "bn1", "bn2", "bn3"]):
            names[block + part] = f"batch_normalization_{4 + 4 * s + j}"
    names["classifier"] = "dense"
    return names


def _write_checkpoint(prefix, ema: bool):
    """Random official-layout variables (their EMA twins different), optimizer slots and
    global_step; returns {variable name: the value a converter should use}."""
    model = models.get("resnetrs50", **TINY)
    rng = np.random.default_rng(0)
    names, tensors, expected = _official_names(), {}, {}
    for weight in model.weights:
        layer, variable = weight.path.rsplit("/", 1)
        shape = tuple(weight.shape)
        if "se/" in layer and variable == "kernel":
            shape = (1, 1, *shape)  # 1x1 convs in the official code
        name = f"{names[layer]}/{variable}"
        raw = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        tensors[name] = raw
        tensors[name + "/Momentum"] = np.zeros(shape, np.float32)
        expected[name] = raw
        if ema:
            tensors[name + "/ExponentialMovingAverage"] = raw + 1.0
            expected[name] = raw + 1.0
    tensors["global_step"] = np.int64(1000)
    keys = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=keys,
        shape_and_slices=[""] * len(keys),
        tensors=[tf.constant(tensors[k]) for k in keys],
    )
    return expected


@pytest.mark.parametrize("ema", [True, False])
def test_official_names_land_on_the_right_layers(tmp_path, ema):
    prefix = str(tmp_path / "model.ckpt-1000")
    expected = _write_checkpoint(prefix, ema)
    model = models.get("resnetrs50", weights=prefix, **TINY)
    got = {w.path: np.asarray(w) for w in model.weights}
    pairs = {
        "stem_conv1/kernel": "conv2d/kernel",
        "stem_bn4/moving_variance": "batch_normalization_3/moving_variance",
        "stage2_block1_shortcut_conv/kernel": "conv2d_4/kernel",
        "stage3_block1_conv2/kernel": "conv2d_12/kernel",
        "stage5_block1_bn3/gamma": "batch_normalization_19/gamma",
        "stage5_block1_se/expand/bias": "conv2d_27/bias",
        "classifier/kernel": "dense/kernel",
    }
    for ours, official in pairs.items():
        np.testing.assert_array_equal(got[ours], expected[official], ours)
    np.testing.assert_array_equal(
        got["stage4_block1_se/reduce/kernel"], expected["conv2d_20/kernel"][0, 0]
    )


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    _write_checkpoint(prefix, ema=True)
    with pytest.raises(ConversionError, match="does not fit"):
        models.get("resnetrs50", weights=prefix, **{**TINY, "block_repeats": (1, 1, 2, 1)})
