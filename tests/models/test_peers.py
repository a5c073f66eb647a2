"""The comparison peers against SPEC 1.7 / 1.8 and their papers."""

import math

import keras
import numpy as np
import pytest

from official import models
from official.layers.channel_shuffle import ChannelShuffle
from official.models import attention, efficientnet


@pytest.mark.parametrize(
    "name,expected",
    [("efficientnet_b0", 5_288_548), ("mnasnet_a1", 3_887_038), ("mnasnet_b1", 4_383_312)],
)
def test_exact_parameter_counts(name, expected):
    assert models.count_parameters(models.get(name)) == expected


@pytest.mark.parametrize(
    "name,paper,tolerance",
    # ShuffleNet v1 1x g=3: "about 1.9M" (we get 1,865,728). Attention-56 31.9M (we get
    # 31,810,728: -0.3%); Attention-92 51.3M (we get 52,466,344: +2.3%, see below).
    [("shufflenet_g3", 1.9e6, 0.03), ("attention56", 31.9e6, 0.01), ("attention92", 51.3e6, 0.03)],
)
def test_parameter_counts_near_the_papers(name, paper, tolerance):
    count = models.count_parameters(models.get(name))
    assert abs(count - paper) / paper < tolerance, count


# The authors' released Caffe definitions (github.com/fwang91/residual-attention-network,
# imagenet_model/Attention-{56,92}-deploy.prototxt), counted layer by layer (convolutions,
# BN scale and shift, the 1000-way classifier), have exactly these counts: the paper's 51.3M
# for Attention-92 is not what its authors released.
@pytest.mark.parametrize(
    "name,released", [("attention56", 31_810_728), ("attention92", 52_466_344)]
)
def test_residual_attention_counts_equal_the_released_definitions(name, released):
    assert models.count_parameters(models.get(name)) == released


def _reference_round(filters, width):
    scaled = filters * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * scaled else rounded


@pytest.mark.parametrize("variant", list(efficientnet.COEFFICIENTS))
def test_efficientnet_follows_compound_scaling(variant):
    width, depth, _, dropout = efficientnet.COEFFICIENTS[variant]
    model = models.get(f"efficientnet_{variant}")
    names = {layer.name for layer in model.layers}
    for i, stage in enumerate(efficientnet.B0_STAGES, start=1):
        repeats = math.ceil(depth * stage.repeats)
        assert f"stage{i}_block{repeats}_project_conv" in names
        assert f"stage{i}_block{repeats + 1}_project_conv" not in names
        out = model.get_layer(f"stage{i}_block1_project_conv").filters
        assert out == _reference_round(stage.filters_out, width)
    assert model.get_layer("stem_conv1").filters == _reference_round(32, width)
    assert model.get_layer("head_conv").filters == _reference_round(1280, width)
    assert model.get_layer("top_dropout").rate == dropout


def test_efficientnet_drop_connect_rises_with_block_index():
    model = models.get("efficientnet_b0")
    rates = [layer.rate for layer in model.layers if layer.name.endswith("_drop")]
    assert rates == sorted(rates) and 0 < rates[0] and rates[-1] < 0.2


def test_channel_shuffle_is_a_permutation_undone_by_its_inverse():
    x = np.arange(2 * 3 * 12, dtype="float32").reshape(2, 1, 3, 12)
    shuffled = np.asarray(ChannelShuffle(3)(x))
    assert sorted(shuffled[0, 0, 0]) == sorted(x[0, 0, 0]) and not np.array_equal(shuffled, x)
    np.testing.assert_array_equal(shuffled[0, 0, 0, :4], [0, 4, 8, 1])  # group-interleaved
    np.testing.assert_array_equal(np.asarray(ChannelShuffle(4)(shuffled)), x)


def test_attention_module_with_zero_mask_equals_its_trunk():
    inputs = keras.Input((16, 16, 32))
    norm = lambda c, name: keras.layers.BatchNormalization(name=name)  # noqa: E731
    out = attention.attention_module(inputs, 32, 2, norm=norm, name="m", p=0)
    module = keras.Model(inputs, [out, keras.Model(inputs, out).get_layer("m_trunk2_out").output])
    # Force M = 0: the last BN outputs a large constant, the last conv maps it far negative.
    bn = module.get_layer("m_mask_bn2")
    bn.gamma.assign(np.zeros(32))
    bn.beta.assign(np.full(32, 10.0))
    module.get_layer("m_mask_conv2").kernel.assign(np.full((1, 1, 32, 32), -10.0))
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 32)).astype("float32")
    result, trunk = (np.asarray(t) for t in module(x))
    np.testing.assert_array_equal(result, trunk)
