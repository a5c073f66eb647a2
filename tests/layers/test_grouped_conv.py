"""GroupedConv2D and grouped_convolution against keras.layers.Conv2D(groups=g): the same outputs
and gradients on every backend and path, on 2 replicas and under XLA; `.keras` files."""

import keras
import numpy as np
import pytest
from keras import ops
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official import models
from official.layers import GroupedConv2D, StandardizedConv2D, grouped_convolution
from official.layers.grouped_conv import fused_is_slow

# (groups, input channels, filters, strides, padding, use_bias); groups == channels is the
# depthwise-like case (one input channel per group), with 1 and 2 filters per group.
CASES = [
    (1, 8, 8, 1, "same", True),
    (4, 8, 12, 2, "valid", False),
    (4, 8, 8, 2, "same", True),
    (32, 64, 32, 1, "same", False),
    (32, 32, 32, 2, "same", True),
    (8, 8, 16, 1, "valid", False),
]
IDS = [f"g{c[0]}_c{c[1]}_f{c[2]}_s{c[3]}_{c[4]}_bias{c[5]}" for c in CASES]


def _pair(groups, channels, filters, strides, padding, use_bias, size=7):
    """(GroupedConv2D, keras.layers.Conv2D, input): the same settings and weights, random bias."""
    kwargs = dict(strides=strides, padding=padding, groups=groups, use_bias=use_bias)
    ours, reference = GroupedConv2D(filters, 3, **kwargs), keras.layers.Conv2D(filters, 3, **kwargs)
    rng = np.random.default_rng(groups)
    x = rng.normal(size=(2, size, size, channels)).astype("float32")
    ours.build(x.shape)
    reference.build(x.shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in reference.weights]
    ours.set_weights(weights)
    reference.set_weights(weights)
    return ours, reference, x


def _gradients(fn, x, kernel, cotangent):
    """d/dx and d/dkernel of sum(fn(x, kernel) * cotangent), as NumPy, on the current backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x, kernel = tf.constant(x), tf.constant(kernel)
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            loss = tf.reduce_sum(fn(x, kernel) * cotangent)
        return [g.numpy() for g in tape.gradient(loss, [x, kernel])]
    if backend == "jax":
        import jax

        grad = jax.grad(lambda a, b: (fn(a, b) * cotangent).sum(), argnums=(0, 1))
        return [np.asarray(g) for g in grad(x, kernel)]
    import torch

    x, kernel = (torch.tensor(v, requires_grad=True) for v in (x, kernel))
    (fn(x, kernel) * torch.tensor(cotangent)).sum().backward()
    return [x.grad.numpy(), kernel.grad.numpy()]


def _assert_close(actual, expected, what="", rel=1e-5):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, what
    error = np.max(np.abs(actual - expected)) / np.max(np.abs(expected))
    assert error <= rel, f"{what}: relative error {error:.2e}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_outputs_and_gradients_equal_keras_grouped_conv2d(case):
    ours, reference, x = _pair(*case)
    _assert_close(to_numpy(ours(x)), to_numpy(reference(x)))
    kernel = to_numpy(reference.kernel)
    cotangent = np.random.default_rng(1).normal(size=reference(x).shape).astype("float32")
    expected = _gradients(reference.convolution_op, x, kernel, cotangent)
    groups, strides, padding = case[0], ours.strides, ours.padding
    paths = {
        "layer": ours.convolution_op,  # the path this backend and device choose
        **{
            f"per_group={p}": lambda a, b, p=p: grouped_convolution(
                a, b, groups=groups, strides=strides, padding=padding, per_group=p
            )
            for p in (True, False)
        },
    }
    for name, fn in paths.items():
        for got, want in zip(_gradients(fn, x, kernel, cotangent), expected, strict=True):
            _assert_close(got, want, name)


def _accelerator_visible() -> bool:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    return False


def test_per_group_where_the_fused_op_is_slow():
    """On a CPU: TensorFlow and JAX convolve per group (their fused CPU op is the slow one),
    PyTorch keeps its fast fused op; with a GPU or TPU visible, the fused op."""
    x = np.zeros((1, 4, 4, 8), "float32")
    on_cpu = {"tensorflow": True, "jax": True, "torch": False}[keras.backend.backend()]
    expected = on_cpu and not _accelerator_visible()
    assert fused_is_slow(ops.convert_to_tensor(x)) is expected


@pytest.mark.tensorflow_only
def test_tensorflow_graph_has_one_conv_per_group_on_cpu_and_the_fused_op_in_a_gpu_scope():
    import tensorflow as tf

    if _accelerator_visible():
        pytest.skip("an accelerator is visible: traced without a device scope, the fused op")

    ours, _, x = _pair(4, 8, 12, 1, "same", False)
    depthwise, _, _ = _pair(8, 8, 16, 1, "same", False)

    def op_types(layer, device=None):
        def call(x):
            if device is None:
                return layer(x)
            with tf.device(device):
                return fused_is_slow(x)

        graph = tf.function(call).get_concrete_function(tf.TensorSpec(x.shape)).graph
        return [op.type for op in graph.get_operations()]

    types = op_types(ours)
    assert types.count("Conv2D") == 4 and "ConcatV2" in types
    assert "DepthwiseConv2dNative" in op_types(depthwise)
    # The choice follows the device scope: a GPU scope (traced only) gets the fused op.
    with tf.Graph().as_default():
        assert fused_is_slow(tf.zeros((1, 2, 2, 8)))
        with tf.device("/GPU:0"):
            assert not fused_is_slow(tf.zeros((1, 2, 2, 8)))
        with tf.device("/CPU:0"):
            assert fused_is_slow(tf.zeros((1, 2, 2, 8)))


def _tf_gradient_step(layer):
    import tensorflow as tf

    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x)))
        return tape.gradient(loss, [x, layer.kernel])

    return step


@pytest.mark.tensorflow_only
def test_two_replicas_and_xla_give_the_fused_gradients():
    import tensorflow as tf

    from official.training.runtime import get_strategy

    strategy = get_strategy("mirrored")
    with strategy.scope():
        ours, reference, x = _pair(4, 8, 8, 2, "same", True)
    halves = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(x[context.replica_id_in_sync_group :: 2])
    )
    got = strategy.run(tf.function(_tf_gradient_step(ours)), (halves,))
    want = strategy.run(tf.function(_tf_gradient_step(reference)), (halves,))
    for g, w in zip(got, want, strict=True):
        replicas = strategy.experimental_local_results(g)
        assert len(replicas) == 2
        for g_replica, w_replica in zip(
            replicas, strategy.experimental_local_results(w), strict=True
        ):
            _assert_close(g_replica.numpy(), w_replica.numpy())

    ours, reference, x = _pair(32, 64, 32, 1, "same", False)
    compiled = tf.function(_tf_gradient_step(ours), jit_compile=True)
    for g, w in zip(
        compiled(tf.constant(x)), _tf_gradient_step(reference)(tf.constant(x)), strict=True
    ):
        _assert_close(g.numpy(), w.numpy())


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input((6, 6, 8))
    y = GroupedConv2D(8, 3, padding="same", groups=4, name="grouped")(inputs)
    y = StandardizedConv2D(8, 3, groups=2, scaled=True, name="ws_grouped")(y)
    model = keras.Model(inputs, y)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 8)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("grouped")) is GroupedConv2D
    assert type(loaded.get_layer("ws_grouped")) is StandardizedConv2D
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6, atol=1e-6)


def test_resnext_keras_file_from_before_grouped_conv2d_loads(tmp_path):
    """Before GroupedConv2D, the grouped convs were keras.layers.Conv2D with the same config and
    variables; such a file (this model with each GroupedConv2D swapped back) loads and computes
    the same logits, and its layers' configs are ours."""
    model = models.get(
        "resnext50_32x4d",
        num_classes=5,
        input_shape=(32, 32, 3),
        width_multiplier=0.25,
        block_repeats=(1, 1, 1, 1),
    )
    grouped = [layer.name for layer in model.layers if type(layer) is GroupedConv2D]
    assert len(grouped) == 4 and all(model.get_layer(n).groups == 32 for n in grouped)

    def as_before(layer):
        cls = keras.layers.Conv2D if type(layer) is GroupedConv2D else layer.__class__
        return cls.from_config(layer.get_config())

    # The zero-initialized gammas (and betas) 1, so that the blocks' branches reach the logits.
    model.set_weights([w if np.any(w) else np.ones_like(w) for w in model.get_weights()])
    before = keras.models.clone_model(model, clone_function=as_before)
    before.set_weights(model.get_weights())
    before.save(tmp_path / "before.keras")
    loaded = keras.saving.load_model(tmp_path / "before.keras")
    for name in grouped:
        assert type(loaded.get_layer(name)) is keras.layers.Conv2D  # as saved: the fused op
        assert loaded.get_layer(name).get_config() == model.get_layer(name).get_config()
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    # predict_on_batch: one compiled call (JAX compiles an eager call op by op, 5-7x as long).
    np.testing.assert_allclose(
        loaded.predict_on_batch(x), model.predict_on_batch(x), rtol=1e-5, atol=1e-5
    )
