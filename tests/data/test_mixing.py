"""Mixup and CutMix (docs/REFERENCE.md §2.7): the mixed labels carry exactly the weights of the
mixed images."""

import numpy as np
import pytest
import tensorflow as tf

from official.configs import recipes
from official.data import augment, pipeline

BATCH, SIZE = 12, 24


def one_hot_images():
    """Image k is 1 in channel k and 0 elsewhere: the channel means of a mixed image are then the
    proportions of each source image in it, read off the pixels independently of the mixer."""
    images = np.zeros((BATCH, SIZE, SIZE, BATCH), np.float32)
    for k in range(BATCH):
        images[k, ..., k] = 1.0
    return images, np.eye(BATCH, dtype=np.float32)


def mixed_batches(mixer, in_tf_data, count=4):
    images, labels = one_hot_images()
    if in_tf_data:
        dataset = tf.data.Dataset.from_tensors((images, labels)).repeat(count).map(mixer)
        return [(x.numpy(), y.numpy()) for x, y in dataset]
    pairs = [mixer(tf.constant(images), tf.constant(labels)) for _ in range(count)]
    return [(x.numpy(), y.numpy()) for x, y in pairs]


@pytest.mark.parametrize("in_tf_data", [False, True], ids=["eager", "tf_data"])
@pytest.mark.parametrize(
    "mixup,cutmix", [(0.2, 0.0), (0.0, 1.0), (0.2, 1.0)], ids=["mixup", "cutmix", "both"]
)
def test_label_weights_equal_the_image_proportions(mixup, cutmix, in_tf_data):
    mixer = augment.batch_mixer(mixup, cutmix, seed=7)
    mixed_rows = 0
    for images, labels in mixed_batches(mixer, in_tf_data):
        proportions = images.mean(axis=(1, 2))  # [BATCH, BATCH]: share of each source image
        np.testing.assert_allclose(labels, proportions, atol=1e-5)
        np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-5)
        assert np.all(labels >= -1e-6) and np.all((labels > 1e-6).sum(axis=1) <= 2)
        mixed_rows += int(np.sum((labels > 1e-3).sum(axis=1) == 2))
    assert mixed_rows > 0  # the test data did get mixed


def test_mixup_blends_whole_images_and_cutmix_pastes_one_rectangle():
    images, labels = one_hot_images()
    x, _ = augment.batch_mixer(0.2, 0.0, seed=3)(tf.constant(images), tf.constant(labels))
    x = x.numpy()
    # Mixup: every pixel of an image is the same blend.
    np.testing.assert_allclose(x, np.broadcast_to(x[:, :1, :1], x.shape), atol=1e-6)
    x, y = augment.cutmix(tf.constant(images), tf.constant(labels), 1.0, seed=3)
    x, y = x.numpy(), y.numpy()
    for i in range(BATCH):
        source = x[i].argmax(axis=-1)
        assert np.all(x[i].max(axis=-1) == 1.0)  # every pixel comes from one image only
        pasted = source != i
        if pasted.any():
            rows, cols = np.where(pasted)
            box = pasted[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
            assert box.all()  # a rectangle
            assert y[i, i] == pytest.approx(1.0 - pasted.mean(), abs=1e-6)


def test_training_batches_carry_mixed_one_hot_labels(sample_dir):
    config = recipes.get("sample").data
    config.data_dir = sample_dir
    config.train_batch_size = 16
    config.mixup_alpha, config.cutmix_alpha, config.seed = 0.2, 1.0, 0
    config.shuffle_buffer = 64
    images, labels = next(iter(pipeline.build_dataset("train", config)))
    assert images.shape == (16, 32, 32, 3) and labels.shape == (16, 10)
    np.testing.assert_allclose(labels.numpy().sum(axis=1), 1.0, atol=1e-5)
    _, eval_labels = next(iter(pipeline.build_dataset("validation", config)))
    assert set(np.unique(eval_labels.numpy())) <= {0.0, 1.0}  # evaluation is never mixed
