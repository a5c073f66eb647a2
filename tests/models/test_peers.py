"""The comparison peers against docs/REFERENCE.md §1.7 / 1.8 and their papers."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official import models
from official.layers import norm_act
from official.layers.channel_shuffle import ChannelShuffle
from official.models import attention


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,expected",
    # efficientnet_b0: timm 1.0.31. MnasNet: this implementation's counts (regression values;
    # the paper gives 3.9M for A1).
    [("efficientnet_b0", 5_288_548), ("mnasnet_a1", 3_887_038), ("mnasnet_b1", 4_383_312)],
)
def test_exact_parameter_counts(name, expected):
    assert models.parameter_count(name) == expected


@pytest.mark.slow
def test_shufflenet_parameter_count_near_the_paper():
    # ShuffleNet v1 1x g=3: "about 1.9M" (table 2); we get 1,865,728. Residual Attention
    # counts: tests/models/test_attention.py; EfficientNet scaling: test_efficientnet.py.
    count = models.parameter_count("shufflenet_g3")
    assert abs(count - 1.9e6) / 1.9e6 < 0.03, count


def test_efficientnet_drop_connect_rises_with_block_index():
    model = models.get("efficientnet_b0", block_repeats=(2,) * 7)
    rates = [layer.rate for layer in model.layers if layer.name.endswith("_drop")]
    assert rates == sorted(rates) and 0 < rates[0] and rates[-1] < 0.2


def test_channel_shuffle_is_a_permutation_undone_by_its_inverse():
    x = np.arange(2 * 3 * 12, dtype="float32").reshape(2, 1, 3, 12)
    shuffled = to_numpy(ChannelShuffle(3)(x))
    assert sorted(shuffled[0, 0, 0]) == sorted(x[0, 0, 0]) and not np.array_equal(shuffled, x)
    np.testing.assert_array_equal(shuffled[0, 0, 0, :4], [0, 4, 8, 1])  # group-interleaved
    np.testing.assert_array_equal(to_numpy(ChannelShuffle(4)(shuffled)), x)


def test_attention_module_with_zero_mask_equals_its_trunk():
    inputs = keras.Input((16, 16, 32))
    out = attention.attention_module(inputs, 32, 2, norm_act=norm_act, name="m", p=0)
    module = keras.Model(inputs, [out, keras.Model(inputs, out).get_layer("m_trunk2_out").output])
    # Force M = 0: the last BN outputs a large constant, the last conv maps it far negative.
    bn = module.get_layer("m_mask_bn2")
    bn.gamma.assign(np.zeros(32))
    bn.beta.assign(np.full(32, 10.0))
    module.get_layer("m_mask_conv2").kernel.assign(np.full((1, 1, 32, 32), -10.0))
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 32)).astype("float32")
    result, trunk = (to_numpy(t) for t in module(x))
    np.testing.assert_array_equal(result, trunk)
