"""NF-ResNet and NFNet against docs/REFERENCE.md §1.6 / 1.8 and the signal-propagation analysis."""

import math

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official import models
from official.layers.activations import GAMMAS, ScaledActivation, SkipInitGain
from official.training.agc import with_agc


@pytest.mark.slow
def test_nfnet_f0_parameter_count_matches_the_released_model():
    assert models.parameter_count("nfnet_f0") == 71_489_284


def test_nfnet_structure():
    model = models.get("nfnet_f1", width_multiplier=0.25)
    assert [model.get_layer(f"stem_conv{i}").filters for i in range(4)] == [4, 8, 16, 32]
    assert "stage4_block12_out" in {layer.name for layer in model.layers}  # 6 x 2 blocks
    f0 = models.get("nfnet_f0", block_repeats=(1, 1, 1, 1))  # full width, one block a stage
    conv = f0.get_layer("stage4_block1_conv1")
    assert (conv.filters, conv.groups) == (768, 6)  # 1536 * 0.5, group width 128
    assert f0.get_layer("top_dropout").rate == 0.2


@pytest.mark.parametrize("name", ["nf_resnet50", "nfnet_f0"])
def test_no_layer_is_a_normalization_layer(name):
    model = models.get(name, width_multiplier=0.25)
    norms = (
        keras.layers.BatchNormalization,
        keras.layers.GroupNormalization,
        keras.layers.LayerNormalization,
    )
    assert not [layer.name for layer in model.layers if isinstance(layer, norms)]


def test_gammas_preserve_unit_variance():
    z = np.random.default_rng(0).normal(size=2_000_000).astype("float32")
    for activation in ("relu", "gelu"):
        y = to_numpy(ScaledActivation(activation)(z))
        assert abs(y.std() - 1.0) < 0.01, activation
    assert GAMMAS["relu"] == pytest.approx(1.7139, abs=1e-4)
    assert GAMMAS["gelu"] == pytest.approx(1.7015, abs=1e-4)


def test_block_variance_follows_the_expected_variance_bookkeeping():
    alpha = 0.2
    model = models.get("nf_resnet50", alpha=alpha, stochastic_depth_rate=0.0, include_top=False)
    for layer in model.layers:  # the bookkeeping describes the branches, so open them
        if isinstance(layer, SkipInitGain):
            layer.gain.assign(1.0)
    outs = [layer.name for layer in model.layers if layer.name.endswith("_out")]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in outs])
    x = np.random.default_rng(0).normal(size=(8, 64, 64, 3)).astype("float32")
    variances = [float(np.var(to_numpy(t))) for t in probe(x)]
    expected, out = [], 1.0
    for name in outs:
        out = 1.0 + alpha**2 if name.endswith("block1_out") else out + alpha**2
        expected.append(out)
    assert len(variances) == 16
    for name, got, want in zip(outs, variances, expected, strict=True):
        assert abs(got / want - 1) < 0.2, (name, got, want)


def test_skipinit_makes_fresh_blocks_identity():
    model = models.get("nf_resnet26", width_multiplier=0.25, include_top=False)
    probe = keras.Model(
        model.input,
        [model.get_layer("stage2_block1_out").output, model.get_layer("stage2_block2_out").output],
    )
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    before, after = (to_numpy(t) for t in probe(x))
    np.testing.assert_array_equal(after, before)


@pytest.mark.parametrize("batch_size", [2, 1])
@pytest.mark.slow
def test_nf_resnet_trains_with_tiny_batches(batch_size):
    model = models.get(
        "nf_resnet26",
        width_multiplier=0.25,
        num_classes=4,
        input_shape=(32, 32, 3),
        dropout_rate=0.0,
        stochastic_depth_rate=0.0,
    )
    optimizer = with_agc(
        keras.optimizers.SGD(0.05, momentum=0.9),
        0.05,
        skip=lambda v: v.path.startswith("classifier/"),
    )
    model.compile(
        optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 4, size=(batch_size,))
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=batch_size, epochs=15, verbose=0)
    last = model.evaluate(x, y, verbose=0)
    assert math.isfinite(last) and last < 0.5 * first


def test_agc_optimizer_wrapper_clips_before_the_update():
    variable = keras.Variable(np.ones((4, 3), "float32"))
    optimizer = with_agc(keras.optimizers.SGD(1.0), 0.01)
    optimizer.apply([np.full((4, 3), 100.0, "float32")], [variable])
    # Unit-wise: ||W_col|| = 2, max ||G_col|| = 0.02, so each column moves by 0.02 / 2 = 0.01.
    np.testing.assert_allclose(to_numpy(variable), 1.0 - 0.01, rtol=1e-5)
