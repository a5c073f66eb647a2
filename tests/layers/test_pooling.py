"""SameAveragePooling2D and the backend-independent mean it uses on PyTorch (docs/backends.md)."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official.layers.pooling import SameAveragePooling2D, mean_over_inputs


def reference(x: np.ndarray, k: int, s: int) -> np.ndarray:
    """'same' average pooling by hand: TensorFlow's padding split (the extra row after), each
    window averaged over the input positions inside it."""
    n, h, w, c = x.shape

    def windows(size):
        out = -(-size // s)
        before = max((out - 1) * s + k - size, 0) // 2
        return [(max(i * s - before, 0), min(i * s - before + k, size)) for i in range(out)]

    rows, cols = windows(h), windows(w)
    y = np.zeros((n, len(rows), len(cols), c), np.float64)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            y[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return y


@pytest.mark.parametrize("shape", [(2, 8, 8, 3), (1, 7, 9, 4), (1, 6, 5, 2)])
@pytest.mark.parametrize("k,s", [(3, 2), (2, 2), (3, 1)])
def test_equals_the_mean_over_input_positions(shape, k, s):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    expected = reference(x, k, s)
    np.testing.assert_allclose(to_numpy(mean_over_inputs(x, k, s)), expected, atol=1e-6)
    np.testing.assert_allclose(to_numpy(SameAveragePooling2D(k, s)(x)), expected, atol=1e-6)


def test_the_border_of_an_even_input_averages_only_its_inputs():
    # 4 columns, 3x3/2: the padding is 0 before and 1 after, so output column 1 covers input
    # columns 2 and 3 only: (3 + 5) / 2. Replicating the edge, as Keras' PyTorch backend does,
    # would give (3 + 5 + 5) / 3.
    x = np.array([1.0, 2.0, 3.0, 5.0], "float32").reshape(1, 1, 4, 1)
    y = to_numpy(mean_over_inputs(x, 3, 2))[0, 0, :, 0]
    np.testing.assert_allclose(y, [2.0, 4.0], rtol=1e-6)


def test_config_round_trip_and_shape_inference():
    layer = SameAveragePooling2D(3, 2, name="pool")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is SameAveragePooling2D and clone.get_config() == layer.get_config()
    inputs = keras.Input((None, 9, 5))
    assert clone(inputs).shape == (None, None, 5, 5)
