"""ResNeSt against docs/REFERENCE.md §1.4 / 1.8 and the split-attention definition."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official import models
from official.layers import norm_act
from official.layers.conv import conv2d
from official.layers.split_attention import attention_filters, split_attention_conv


@pytest.mark.slow
def test_resnest50d_parameter_count_matches_spec():
    assert models.parameter_count("resnest50d") == 27_483_240


def test_structure_deep_stem_avd_and_attention_width():
    model = models.get("resnest101e", block_repeats=(1, 1, 1, 1))
    assert [model.get_layer(f"stem_conv{i}").filters for i in (1, 2, 3)] == [64, 64, 128]
    conv = model.get_layer("stage3_block1_splat_conv")
    assert (conv.filters, conv.groups, conv.strides) == (256, 2, (1, 1))  # R*C, R groups
    assert isinstance(model.get_layer("stage3_block1_avd"), keras.layers.AveragePooling2D)
    assert model.get_layer("stage2_block1_splat_fc1").filters == 32  # max(64 * 2 / 4, 32)
    assert model.get_layer("stage5_block1_splat_fc1").filters == 256  # 512 * 2 / 4
    assert attention_filters(64, 2) == 32 and attention_filters(16, 2) == 32


def test_radix_one_is_sigmoid_gating_like_se():
    inputs = keras.Input((6, 6, 8))
    out = split_attention_conv(
        inputs, 8, 1, radix=1, cardinality=1, conv=conv2d, norm_act=norm_act, name="sa"
    )
    model = keras.Model(inputs, out)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 8)).astype("float32")
    y = to_numpy(model(x))
    # Reference: SE-style gating x * sigmoid(W2 relu(BN(W1 mean(x)))) on the conv's output.
    features = to_numpy(keras.Model(inputs, model.get_layer("sa_relu0").output)(x))
    w1, b1 = (to_numpy(v) for v in model.get_layer("sa_fc1").weights)
    w2, b2 = (to_numpy(v) for v in model.get_layer("sa_fc2").weights)
    bn = model.get_layer("sa_bn1")
    h = features.mean(axis=(1, 2)) @ w1[0, 0] + b1
    h = (h - to_numpy(bn.moving_mean)) / np.sqrt(to_numpy(bn.moving_variance) + bn.epsilon)
    h = np.maximum(h * to_numpy(bn.gamma) + to_numpy(bn.beta), 0)
    gate = 1 / (1 + np.exp(-(h @ w2[0, 0] + b2)))
    np.testing.assert_allclose(y, features * gate[:, None, None, :], rtol=1e-5, atol=1e-6)


def test_radix_two_weights_the_splits_by_a_softmax():
    inputs = keras.Input((4, 4, 6))
    out = split_attention_conv(
        inputs, 6, 1, radix=2, cardinality=1, conv=conv2d, norm_act=norm_act, name="sa"
    )
    model = keras.Model(inputs, out)
    x = np.random.default_rng(1).normal(size=(1, 4, 4, 6)).astype("float32")
    splits = to_numpy(keras.Model(inputs, model.get_layer("sa_relu0").output)(x))
    logits = to_numpy(keras.Model(inputs, model.get_layer("sa_fc2").output)(x))[0, 0, 0]
    logits = logits.reshape(2, 6)
    weights = np.exp(logits) / np.exp(logits).sum(axis=0)
    expected = splits[..., :6] * weights[0] + splits[..., 6:] * weights[1]
    np.testing.assert_allclose(to_numpy(model(x)), expected, rtol=1e-5, atol=1e-6)
