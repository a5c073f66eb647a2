"""3D ResNet-RS-50 against TF Model Garden's 3D ResNet-RS definition (docs/video.md): temporal
kernels per stage, the 'v1' stem and its temporal stride, self-gating in the last block of every
stage, the parameter count summed by hand from that definition."""

import keras
import numpy as np
import pytest

from official import models
from official.layers.self_gating import SelfGating
from official.layers.squeeze_excite import SqueezeExcite
from official.models import video
from official.models.resnet import resnet

# Model Garden: RESNET_SPECS[50] blocks per stage, ResNet3DRS temporal kernel per stage.
BLOCKS, WIDTHS, TEMPORAL = (3, 4, 6, 3), (64, 128, 256, 512), (1, 1, 3, 3)


def hand_count(num_classes: int, se_ratio: float = 0.25) -> int:
    """Weights of Model Garden's layout: convs without bias, BN gamma + beta, SE (two 1x1 convs
    with bias, reduced = int(out * ratio)), self-gating (one 1x1x1 conv with bias), dense."""

    def conv(kt, k, cin, cout):
        return kt * k * k * cin * cout + 2 * cout  # + its BN

    total = conv(5, 3, 3, 32) + conv(1, 3, 32, 32) + conv(1, 3, 32, 64)  # stem 'v1'
    cin = 64
    for blocks, width, kt in zip(BLOCKS, WIDTHS, TEMPORAL, strict=True):
        out = 4 * width
        for b in range(blocks):
            total += conv(kt, 1, cin, width) + conv(1, 3, width, width) + conv(1, 1, width, out)
            if cin != out:
                total += conv(1, 1, cin, out)  # projection shortcut
            reduced = int(out * se_ratio)
            total += out * reduced + reduced + reduced * out + out  # SE
            if b == blocks - 1:
                total += out * out + out  # self-gating
            cin = out
    return total + 2048 * num_classes + num_classes


def test_parameter_count_equals_the_hand_count_of_the_official_layout():
    assert models.parameter_count("resnetrs50_3d", num_classes=400) == hand_count(400) == 48_129_840


def test_layout_and_temporal_strides_on_a_32_frame_clip():
    model = models.get("resnetrs50_3d", num_classes=10, width_multiplier=0.25)
    for name, kernel, strides in [
        ("stem_conv1", (5, 3, 3), (2, 2, 2)),  # temporal kernel 5, temporal stride 2
        ("stem_conv2", (1, 3, 3), (1, 1, 1)),
        ("stem_conv3", (1, 3, 3), (1, 1, 1)),
        ("stage2_block3_conv1", (1, 1, 1), (1, 1, 1)),
        ("stage3_block1_conv1", (1, 1, 1), (1, 1, 1)),
        ("stage4_block1_conv1", (3, 1, 1), (1, 1, 1)),
        ("stage5_block3_conv1", (3, 1, 1), (1, 1, 1)),
        ("stage4_block1_conv2", (1, 3, 3), (1, 2, 2)),  # the spatial stride on the 3x3
        ("stage4_block1_shortcut_conv", (1, 1, 1), (1, 2, 2)),  # no ResNet-D average pool
    ]:
        layer = model.get_layer(name)
        assert (tuple(layer.kernel.shape[:3]), tuple(layer.strides)) == (kernel, strides), name
    pool = model.get_layer("stem_pool")
    assert (pool.pool_size, pool.strides) == ((1, 3, 3), (1, 2, 2))  # temporal stride 1
    names = {layer.name for layer in model.layers}
    assert not any(n.endswith("shortcut_pool") for n in names)
    gates = sorted(layer.name for layer in model.layers if isinstance(layer, SelfGating))
    assert gates == [f"stage{s}_block{b}_gate" for s, b in zip((2, 3, 4, 5), BLOCKS, strict=True)]
    assert model.get_layer("stage3_block2_se").reduced_filters == int(512 * 0.25 * 0.25)
    assert isinstance(model.get_layer("stage3_block2_se"), SqueezeExcite)
    assert model.get_layer("top_dropout").rate == 0.5

    clip = np.random.default_rng(0).normal(size=(1, 32, 64, 64, 3)).astype("float32")
    features = keras.Model(model.input, model.get_layer("stage5_block3_out").output)
    assert features(clip).shape == (1, 16, 2, 2, 512)  # 32 frames -> 16, 64 px -> 2
    assert model(clip).shape == (1, 10)


def test_a_wrong_number_of_temporal_kernels_is_refused():
    with pytest.raises(ValueError, match="one per stage 2..5"):
        models.get("resnetrs50_3d", temporal_kernels=(1, 3, 3))


def test_the_image_trunk_builds_a_3d_resnet_d_from_the_ops_passed_in():
    """resnet() with video's conv and pools: the ResNet-D shortcut pools 2x2 over space only and
    the frames pass through every stage (no temporal kernel named: all (1, k, k))."""
    model = resnet(
        50,
        block_repeats=(1, 1, 1, 1),
        width_multiplier=0.125,
        avg_down=True,
        num_classes=3,
        input_shape=(4, 32, 32, 3),
        conv_fn=video.space_time_conv({}),
        avg_pool_fn=video.space_avg_pool,
        max_pool_fn=video.space_max_pool,
    )
    pool = model.get_layer("stage3_block1_shortcut_pool")
    assert isinstance(pool, keras.layers.AveragePooling3D)
    assert (pool.pool_size, pool.strides) == ((1, 2, 2), (1, 2, 2))
    assert model.get_layer("stem_conv1").kernel.shape[:3] == (1, 7, 7)
    features = model.get_layer("stage5_block1_out").output
    assert tuple(features.shape) == (None, 4, 1, 1, 256)  # 32 px / 32, 4 frames kept
    with pytest.raises(ValueError, match="video stems pool with TF 'same' only"):
        resnet(
            50,
            block_repeats=(1, 1, 1, 1),
            padding="symmetric",
            input_shape=(4, 32, 32, 3),
            conv_fn=video.space_time_conv({}),
            max_pool_fn=video.space_max_pool,
        )


@pytest.mark.slow
@pytest.mark.tensorflow_only
def test_training_step_compiles_with_xla_and_matches_the_graph_step():
    """Self-gating, 3D convs and pools inside a jit_compile=True train step (XLA:CPU)."""
    import tensorflow as tf

    model = models.get(
        "resnetrs50_3d",
        num_classes=4,
        width_multiplier=0.125,
        block_repeats=(1, 1, 1, 1),
        dropout_rate=0.0,
        stochastic_depth_rate=0.0,
        input_shape=(4, 16, 16, 3),
    )
    clips = tf.random.stateless_normal((2, 4, 16, 16, 3), seed=(1, 2))
    labels = tf.constant([1, 3])

    def step(clips, labels):
        with tf.GradientTape() as tape:
            logits = model(clips, training=True)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
        grads = tape.gradient(loss, model.trainable_variables)
        return loss, tf.linalg.global_norm(grads)

    xla = tf.function(step, jit_compile=True)(clips, labels)
    graph = tf.function(step)(clips, labels)
    assert np.all(np.isfinite([float(t) for t in xla]))
    np.testing.assert_allclose([float(t) for t in xla], [float(t) for t in graph], rtol=1e-4)
