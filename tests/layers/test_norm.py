import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official.layers import group_count, norm_act, norm_layer


@pytest.mark.parametrize(
    "channels,expected", [(64, 32), (2048, 32), (16, 16), (24, 24), (48, 24), (8, 8), (7, 7)]
)
def test_group_count_is_largest_divisor_up_to_32(channels, expected):
    assert group_count(channels) == expected
    assert channels % group_count(channels) == 0


def test_factory_builds_each_kind():
    bn = norm_layer("batch", 64, name="bn", momentum=0.0, epsilon=1e-5)
    assert isinstance(bn, keras.layers.BatchNormalization)
    assert (bn.momentum, bn.epsilon, bn.synchronized) == (0.0, 1e-5, False)
    gn = norm_layer("group", 64, name="gn")
    assert isinstance(gn, keras.layers.GroupNormalization) and gn.groups == 32
    assert isinstance(norm_layer("none", 64, name="id"), keras.layers.Identity)


def test_sync_batch_is_tensorflow_only():
    """Keras synchronizes BN statistics across replicas only on TensorFlow (tf.distribute); the
    other backends refuse it in one line."""
    if keras.backend.backend() == "tensorflow":
        assert norm_layer("sync_batch", 64, name="sbn").synchronized is True
    else:
        with pytest.raises(ValueError, match="only supported with the TensorFlow backend"):
            norm_layer("sync_batch", 64, name="sbn")


def test_group_norm_matches_numpy():
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 64)).astype("float32")
    y = to_numpy(norm_layer("group", 64, name="gn")(x))
    g = x.reshape(2, 4, 4, 32, 2)
    ref = (g - g.mean(axis=(1, 2, 4), keepdims=True)) / np.sqrt(
        g.var(axis=(1, 2, 4), keepdims=True) + 1e-5
    )
    np.testing.assert_allclose(y, ref.reshape(x.shape), atol=1e-4)


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_zero_init_outputs_zero(norm):
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 32)).astype("float32")
    layer = norm_layer(norm, 32, name="n", zero_init=True)
    assert np.all(to_numpy(layer(x, training=True)) == 0.0)


def test_unknown_norm_names_the_choices():
    with pytest.raises(ValueError, match=r"norm='layer'.*'batch', 'sync_batch', 'group', 'none'"):
        norm_layer("layer", 32, name="n")


def test_norm_act_is_the_norm_then_the_named_activation():
    """norm_act(x, name, act_name): GN over x's channels (48 -> 24 groups), then swish, against
    NumPy; without act_name only the norm layer is added."""
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 48)).astype("float32")
    inputs = keras.Input((4, 4, 48))
    model = keras.Model(inputs, norm_act(inputs, "gn", "act", norm="group", activation="swish"))
    assert [type(layer).__name__ for layer in model.layers[1:]] == [
        "GroupNormalization",
        "Activation",
    ]
    assert model.get_layer("gn").groups == 24
    g = x.reshape(2, 4, 4, 24, 2)
    n = (g - g.mean(axis=(1, 2, 4), keepdims=True)) / np.sqrt(
        g.var(axis=(1, 2, 4), keepdims=True) + 1e-5
    )
    n = n.reshape(x.shape)
    np.testing.assert_allclose(to_numpy(model(x)), n / (1 + np.exp(-n)), atol=1e-4)
    alone = keras.Model(inputs, norm_act(inputs, "bn", zero_init=True, momentum=0.5))
    assert [layer.name for layer in alone.layers[1:]] == ["bn"]
    assert alone.get_layer("bn").momentum == 0.5
    assert np.all(to_numpy(alone(x, training=True)) == 0.0)


def test_norm_act_takes_a_layer_class_as_activation():
    inputs = keras.Input((4, 4, 8))
    outputs = norm_act(inputs, "bn", "relu", activation=keras.layers.ReLU)
    relu = keras.Model(inputs, outputs).get_layer("relu")
    assert isinstance(relu, keras.layers.ReLU)
    x = np.random.default_rng(1).normal(size=(1, 4, 4, 8)).astype("float32")
    np.testing.assert_array_equal(to_numpy(relu(x)), np.maximum(x, 0))
