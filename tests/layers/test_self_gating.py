import numpy as np
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official.layers.self_gating import SelfGating


def test_self_gating_equals_numpy_on_a_video_tensor():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5, 6)).astype("float32")
    layer = SelfGating()
    y = to_numpy(layer(x))
    kernel, bias = (to_numpy(w) for w in layer.transform.weights)
    gate = 1 / (1 + np.exp(-(x.mean(axis=(1, 2, 3)) @ kernel + bias)))
    np.testing.assert_allclose(y, x * gate[:, None, None, None, :], rtol=1e-5, atol=1e-6)
    assert kernel.shape == (6, 6) and 0 < np.abs(kernel).max() <= 0.02  # truncated N(0, 0.01)
