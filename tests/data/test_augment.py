import numpy as np
import tensorflow as tf

from official.data import augment


def test_pca_lighting_adds_one_rgb_offset_along_the_eigenvectors():
    image = tf.fill([4, 4, 3], 100.0)
    tf.random.set_seed(0)
    out = augment.pca_lighting(image, std=0.1).numpy()
    offset = out[0, 0] - 100.0
    np.testing.assert_allclose(out - 100.0, np.broadcast_to(offset, out.shape), atol=1e-4)
    # offset = V @ (alpha * eigval): solve for alpha and check it is a plausible N(0, 0.1) draw.
    alpha = np.linalg.solve(np.array(augment.PCA_EIGVEC), offset) / np.array(augment.PCA_EIGVAL)
    assert np.all(np.abs(alpha) < 0.5)
    assert augment.pca_lighting(image, std=0.0).numpy().tolist() == image.numpy().tolist()


def test_color_jitter_stays_in_range_and_scales_brightness():
    rng = np.random.default_rng(0)
    image = tf.constant(rng.uniform(0, 255, (16, 16, 3)), tf.float32)
    outs = [augment.color_jitter(image).numpy() for _ in range(20)]
    assert all(o.min() >= 0 and o.max() <= 255 for o in outs)
    gray = tf.fill([8, 8, 3], 100.0)  # no saturation or hue to change: only brightness acts
    ratios = [float(augment.color_jitter(gray).numpy().mean()) / 100 for _ in range(50)]
    assert 0.6 - 1e-3 <= min(ratios) and max(ratios) <= 1.4 + 1e-3 and np.std(ratios) > 0.1


def test_batch_mixer_off_when_both_alphas_are_zero():
    assert augment.batch_mixer(0.0, 0.0) is None
