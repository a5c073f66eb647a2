"""EfficientNet-B0..B7 (docs/REFERENCE.md §1.7) against the paper's table 1 and its
compound-scaling rule, typed here from the paper and the official code, not read from
official/models."""

import math

import pytest

from official import models

# EfficientNet (Tan & Le 2019), table 1, B0 at 224 x 224: per stage, the operator, its kernel,
# the input resolution, the output channels and the number of layers. A stage's stride is its
# input resolution over the next stage's.
TABLE_1 = [
    # stage, operator, kernel, resolution, channels, layers
    (1, "Conv", 3, 224, 32, 1),
    (2, "MBConv1", 3, 112, 16, 1),
    (3, "MBConv6", 3, 112, 24, 2),
    (4, "MBConv6", 5, 56, 40, 2),
    (5, "MBConv6", 3, 28, 80, 3),
    (6, "MBConv6", 5, 14, 112, 3),
    (7, "MBConv6", 5, 14, 192, 4),
    (8, "MBConv6", 3, 7, 320, 1),
    (9, "Conv1x1 & Pooling & FC", 1, 7, 1280, 1),
]
# (width, depth, resolution, dropout): tensorflow/tpu models/official/efficientnet/
# efficientnet_builder.py, `efficientnet_params`.
COEFFICIENTS = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}
SE_RATIO, DROP_CONNECT = 0.25, 0.2


def scaled_channels(channels, width):
    """The official `round_filters`: to the nearest multiple of 8, at least 8, and never more
    than 10% below channels * width."""
    target = channels * width
    rounded = max(8, int(target + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * target else rounded


def scaled_table(variant):
    """[(expand, kernel, stride, channels out, layers)] for the MBConv stages 2-8, the stem and
    head channels, after compound scaling (layers: ceil(depth * L), the official
    `round_repeats`)."""
    width, depth, _, _ = COEFFICIENTS[variant]
    rows = []
    for i in range(1, 8):
        _, operator, kernel, resolution, channels, layers = TABLE_1[i]
        stride = resolution // TABLE_1[i + 1][3]
        expand = int(operator[len("MBConv") :])
        rows.append(
            (expand, kernel, stride, scaled_channels(channels, width), math.ceil(depth * layers))
        )
    return rows, scaled_channels(32, width), scaled_channels(1280, width)


def check_widths_kernels_strides(model, variant, stage_layers):
    """Everything but the layer counts: those are checked against `stage_layers`."""
    rows, stem, head = scaled_table(variant)
    names = {layer.name for layer in model.layers}
    assert model.get_layer("stem_conv1").filters == stem
    assert model.get_layer("stem_conv1").strides == (2, 2)
    assert model.get_layer("head_conv").filters == head
    channels_in = stem
    for stage, ((expand, kernel, stride, channels, _), layers) in enumerate(
        zip(rows, stage_layers, strict=True), start=1
    ):
        for block in range(1, layers + 1):
            name = f"stage{stage}_block{block}"
            dwconv = model.get_layer(f"{name}_dwconv")
            assert dwconv.kernel_size == (kernel, kernel), name
            assert dwconv.strides == ((stride, stride) if block == 1 else (1, 1)), name
            if expand == 1:
                assert f"{name}_expand_conv" not in names
            else:
                assert model.get_layer(f"{name}_expand_conv").filters == expand * channels_in
            se = model.get_layer(f"{name}_se")
            assert se.reduced_filters == max(1, int(channels_in * SE_RATIO)), name
            assert model.get_layer(f"{name}_project_conv").filters == channels, name
            channels_in = channels
        assert f"stage{stage}_block{layers + 1}_dwconv" not in names


@pytest.mark.parametrize("variant", ["b0", "b4"])
def test_widths_kernels_and_strides_follow_table_1_at_full_width(variant):
    """Full width, one block per stage (fast): the table's columns other than the layers."""
    model = models.get(f"efficientnet_{variant}", block_repeats=(1,) * 7)
    check_widths_kernels_strides(model, variant, [1] * 7)


def test_b0_resolutions_follow_table_1():
    model = models.get("efficientnet_b0", block_repeats=(1,) * 7, input_shape=(224, 224, 3))
    resolutions = [model.get_layer("stem_conv1").output.shape[1]]
    for stage in range(1, 8):
        resolutions.append(model.get_layer(f"stage{stage}_block1_project_bn").output.shape[1])
    # Output of each stage = input resolution of the next row of table 1.
    assert resolutions == [row[3] for row in TABLE_1[1:]]


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(COEFFICIENTS))
def test_every_variant_follows_the_compound_scaling_of_table_1(variant):
    width, depth, resolution, dropout = COEFFICIENTS[variant]
    with models.counting.shapes_only():  # read from the layers' configs and shapes alone
        model = models.get(f"efficientnet_{variant}", input_shape=(resolution, resolution, 3))
    rows, _, _ = scaled_table(variant)
    check_widths_kernels_strides(model, variant, [row[4] for row in rows])
    assert model.get_layer("top_dropout").rate == dropout
    rates = [layer.rate for layer in model.layers if layer.name.endswith("_drop")]
    assert rates == sorted(rates) and 0 < rates[0] and rates[-1] < DROP_CONNECT
    # The resolution halves where table 1's does: 5 halvings, r / 32 at the head (rounded up).
    assert model.get_layer("head_conv").output.shape[1] == math.ceil(resolution / 32)
