"""official/training/remat.py: the stage-checkpointed pass gives the plain pass's logits,
gradients and BN statistics (stochastic depth on); networks that cannot be cut are refused in
one line. The Trainer's use of it on 2 replicas under XLA:
tests/training/test_fine_tuning_controls.py."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from official import models
from official.models.counting import shapes_only
from official.training import randomness, remat
from tests.models.test_registry import _tiny

pytestmark = pytest.mark.tensorflow_only


def _step(model, forward, seeds, images, labels):
    @tf.function
    def step():
        seeds.reseed(tf.constant(7, tf.int64))
        with tf.GradientTape() as tape:
            logits = forward(images, training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            )
        return logits, tape.gradient(loss, model.trainable_variables)

    logits, grads = step()
    statistics = [np.asarray(w) for w in model.non_trainable_weights]
    return np.asarray(logits), [np.asarray(g) for g in grads], statistics


@pytest.mark.slow  # about 14 s; the XLA-on-2-replicas case is in test_fine_tuning_controls
def test_checkpointed_stages_give_the_plain_gradients_and_statistics():
    model = _tiny("resnetrs50", stochastic_depth_rate=0.5)
    seeds = randomness.ReplicaSeeds(model, 0)
    assert seeds.states  # stochastic depth draws inside the stages
    images = tf.random.stateless_uniform((4, 32, 32, 3), seed=(3, 4))
    labels = tf.constant([0, 1, 2, 3])
    start = [np.asarray(w) for w in model.non_trainable_weights]
    plain = _step(model, model, seeds, images, labels)
    for weight, value in zip(model.non_trainable_weights, start, strict=True):
        weight.assign(value)
    checkpointed = remat.forward(model, "stages")
    assert [p.name for p, _ in checkpointed.pieces] == [
        "before_stage2",
        "remat_stage2",
        "remat_stage3",
        "remat_stage4",
        "remat_stage5",
        "after_stages",
    ]
    again = _step(model, checkpointed, seeds, images, labels)
    np.testing.assert_allclose(again[0], plain[0], rtol=1e-6)
    for a, b in zip(plain[1], again[1], strict=True):
        assert np.linalg.norm(a - b) <= 1e-5 * np.linalg.norm(a)
    for a, b in zip(plain[2], again[2], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # Its sub-models share the network's variables: nothing new to checkpoint.
    assert {id(v) for p, _ in checkpointed.pieces for v in p.weights} <= {
        id(v) for v in model.weights
    }


def test_a_stage_that_cannot_be_cut_is_refused_in_one_line():
    inputs = keras.Input((8, 8, 3))
    stem = keras.layers.Conv2D(4, 3, padding="same", name="stem_conv1")(inputs)
    branch = keras.layers.Conv2D(4, 3, padding="same", name="stage1_block1_conv1")(stem)
    skip = keras.layers.Add(name="stage2_block1_add")(
        [branch, stem]
    )  # stage 2 reads stage 1 and the stem
    outputs = keras.layers.Dense(2, name="classifier")(
        keras.layers.GlobalAveragePooling2D(name="avg_pool")(skip)
    )
    model = keras.Model(inputs, outputs, name="crossing")
    with pytest.raises(
        ValueError, match=r"^train.remat='stages': stage 2 of crossing takes 2 tensors in"
    ):
        remat.forward(model, "stages")
    with pytest.raises(ValueError, match=r"^train.remat='blocks' is not known"):
        remat.forward(model, "blocks")


@pytest.mark.slow
def test_every_registered_network_can_be_cut_at_its_stages():
    with shapes_only():
        for name in models.list_models():
            boundaries = remat.stage_boundaries(_tiny(name))
            assert len(boundaries) >= 3, name
