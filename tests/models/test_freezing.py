"""official/models/freezing.py: which layers each part freezes (hand-listed for the tiny
ResNet-18), frozen norms in inference mode for every norm kind, BN statistics fixed while gamma
and beta train, one-line refusals, and 'backbone' leaving exactly the head for every name."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official import models
from official.layers.norm import NORMS, norm_layer
from official.models import freezing, stages
from official.models.counting import shapes_only
from tests.models.test_registry import _tiny


def _trainable_layers(model):
    return sorted({w.path.split("/")[0] for w in model.trainable_weights})


def test_each_part_freezes_the_layers_before_it():
    with shapes_only():
        model = _tiny("resnet18")
    freezing.freeze(model, "stem")
    assert not any(n.startswith("stem_") for n in _trainable_layers(model))
    assert "stage2_block1_conv1" in _trainable_layers(model)

    frozen = freezing.freeze(model, "stage3")  # the stem, stage 2 and stage 3
    assert frozen == [
        x.name for x in model.layers if x.name.startswith(("stem_", "stage2_", "stage3_"))
    ]
    assert {n.split("_")[0] for n in _trainable_layers(model)} == {"stage4", "stage5", "classifier"}

    freezing.freeze(model, "backbone")
    assert _trainable_layers(model) == ["classifier"]
    freezing.freeze(model, "")
    assert len(model.trainable_weights) == len([w for w in model.weights if "moving" not in w.path])


def test_a_part_the_model_lacks_is_refused_in_one_line():
    with shapes_only():
        model = _tiny("resnet18")
    with pytest.raises(
        ValueError, match=r"^freeze='stage6': .* has stages 2, 3, 4, 5, no stage 6\.$"
    ):
        freezing.freeze(model, "stage6")
    with pytest.raises(ValueError, match=r"^freeze='layer3' is not a part"):
        freezing.freeze(model, "layer3")


# Keras' synchronized BatchNormalization exists on TensorFlow only.
_SYNC = () if keras.backend.backend() == "tensorflow" else ("sync_batch",)


@pytest.mark.parametrize("norm", [n for n in NORMS if n not in ("none", *_SYNC)])
def test_a_frozen_norm_computes_its_inference_function_and_keeps_its_statistics(norm):
    inputs = keras.Input((4, 4, 64))
    model = keras.Model(inputs, norm_layer(norm, 64, name="stem_bn")(inputs))
    x = np.random.default_rng(0).normal(2.0, 3.0, (8, 4, 4, 64)).astype("float32")
    model(x, training=True)  # moves BN's statistics away from (0, 1)
    before = [to_numpy(w) for w in model.weights]
    freezing.freeze(model, "stem")
    assert model.trainable_weights == []
    np.testing.assert_array_equal(
        to_numpy(model(x, training=True)), to_numpy(model(x, training=False))
    )
    for weight, value in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(to_numpy(weight), value, weight.path)
    if norm == "group":  # no statistics: its training pass is its inference pass, frozen or not
        freezing.freeze(model, "")
        np.testing.assert_array_equal(
            to_numpy(model(x, training=True)), to_numpy(model(x, training=False))
        )


def test_fixed_statistics_normalize_with_the_moving_ones_while_gamma_trains():
    model = _tiny("resnet18")
    x = np.random.default_rng(1).normal(size=(4, 32, 32, 3)).astype("float32")
    model(x, training=True)

    def statistics():
        return {w.path: to_numpy(w) for w in model.weights if "moving" in w.path}

    before = statistics()
    assert freezing.fix_batch_norm_statistics(model) == len(before) // 2  # mean and variance
    assert "stem_bn1/gamma" in [w.path for w in model.trainable_weights]
    np.testing.assert_array_equal(
        to_numpy(model(x, training=True)), to_numpy(model(x, training=False))
    )
    for path, value in statistics().items():
        np.testing.assert_array_equal(value, before[path], path)
    assert {w.path for w in freezing.frozen_weights(model)} == set(before)
    freezing.fix_batch_norm_statistics(model, fixed=False)
    model(x, training=True)  # batch statistics again: the moving ones move
    assert not np.array_equal(statistics()["stem_bn1/moving_mean"], before["stem_bn1/moving_mean"])


@pytest.mark.slow  # every registered name
def test_backbone_leaves_exactly_the_head_trainable_for_every_name():
    with shapes_only():
        for name in models.list_models():
            model = _tiny(name)
            freezing.freeze(model, "backbone")
            assert _trainable_layers(model) == ["classifier"], name
            kinds = {stages.part_of(x).kind for x in model.layers if x.trainable and x.weights}
            assert kinds == {stages.HEAD}, name
