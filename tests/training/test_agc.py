import numpy as np
import tensorflow as tf

from official import models
from official.training import agc, loop


def numpy_agc(g, w, clip, eps=1e-3):
    if g.ndim <= 1:
        gn, wn = np.abs(g), np.abs(w)
    else:
        axes = tuple(range(g.ndim - 1))
        gn = np.sqrt((g**2).sum(axis=axes, keepdims=True))
        wn = np.sqrt((w**2).sum(axis=axes, keepdims=True))
    max_norm = np.maximum(wn, eps) * clip
    return np.where(gn > max_norm, g * max_norm / np.maximum(gn, 1e-6), g)


def test_matches_numpy_on_random_tensors():
    rng = np.random.default_rng(0)
    for shape in [(3, 3, 4, 8), (16, 10), (8,), (2, 1, 1, 5)]:
        w = rng.normal(size=shape).astype("float32")
        g = (rng.normal(size=shape) * rng.choice([0.001, 1.0], size=shape)).astype("float32")
        out = agc.clip_gradient(tf.constant(g), tf.constant(w), 0.01).numpy()
        np.testing.assert_allclose(out, numpy_agc(g, w, 0.01), rtol=1e-5, atol=1e-7)
        assert not np.allclose(out, g)  # the test data does get clipped


def test_clipping_is_scale_invariant_in_the_weights():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 3, 4, 8)).astype("float32")
    g = rng.normal(size=(3, 3, 4, 8)).astype("float32")
    base = agc.clip_gradient(tf.constant(g), tf.constant(w), 0.02).numpy()
    scaled = agc.clip_gradient(tf.constant(5 * g), tf.constant(5 * w), 0.02).numpy()
    np.testing.assert_allclose(scaled, 5 * base, rtol=1e-5)  # clip(sG, sW) = s clip(G, W)


def test_classifier_is_left_unclipped():
    model = models.get("resnet18", width_multiplier=0.25, num_classes=3, input_shape=(32, 32, 3))
    variables = model.trainable_variables
    grads = [tf.ones_like(v) * 100.0 for v in variables]
    clipped = agc.adaptive_clip_gradients(grads, variables, 0.01, skip=loop.is_classifier)
    for v, g, c in zip(variables, grads, clipped, strict=True):
        if v.path.startswith("classifier/"):
            np.testing.assert_array_equal(c.numpy(), g.numpy())
        else:
            assert float(tf.reduce_max(tf.abs(c))) < 100.0, v.path
