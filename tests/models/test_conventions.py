"""The convention switches are builder arguments recorded in the model: a .keras file and a
SavedModel compute what the builder built (docs/weights.md)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official import models

TINY = dict(block_repeats=(1, 1, 1, 1), width_multiplier=0.25, input_shape=(32, 32, 3))


def _with_weights_of(model, donor):
    model.set_weights(donor.get_weights())
    return model


def test_resnet_padding_survives_keras_and_changes_the_output(tmp_path):
    symmetric = models.get("resnet18", padding="symmetric", **TINY)
    same = _with_weights_of(models.get("resnet18", **TINY), symmetric)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    y = to_numpy(symmetric(x))
    assert np.abs(y - to_numpy(same(x))).max() > 1e-4
    symmetric.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(to_numpy(reloaded(x)), y, rtol=1e-5)


@pytest.mark.tensorflow_only
def test_resnet_padding_survives_a_savedmodel(tmp_path):
    symmetric = models.get("resnet18", padding="symmetric", **TINY)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    y = to_numpy(symmetric(x))
    symmetric.export(str(tmp_path / "saved"), verbose=False)
    saved = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(saved.serve(tf.constant(x)), y, rtol=1e-5, atol=1e-6)


def test_mbconv_and_nfnet_switches_are_in_the_layer_configs(tmp_path):
    net = models.get("efficientnet_b0", padding="symmetric", bn_epsilon=1e-5, **TINY)
    assert net.get_layer("stem_conv1_pad").padding == ((1, 1), (1, 1))
    assert net.get_layer("stage6_block1_dwconv_pad").padding == ((2, 2), (2, 2))  # 5x5/2
    assert net.get_layer("stage2_block1_expand_bn").epsilon == 1e-5
    nf = models.get(
        "nfnet_f0", activation="gelu_exact", ws_epsilon=1e-5, ws_epsilon_mode="add", **TINY
    )
    nf.save(tmp_path / "nf.keras")
    loaded = keras.saving.load_model(tmp_path / "nf.keras")
    conv = loaded.get_layer("stage3_block1_conv1")
    assert (conv.eps, conv.eps_mode) == (1e-5, "add")
    assert loaded.get_layer("stage3_block1_act1").activation == "gelu_exact"
    x = np.random.default_rng(1).normal(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(nf(x)), rtol=1e-5)
