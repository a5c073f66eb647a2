"""Augmentations other than RandAugment: the Bag-of-Tricks colour jitter and PCA lighting
(per image, docs/REFERENCE.md §2.1), and mixup / CutMix (per batch)."""

from __future__ import annotations

import keras
import tensorflow as tf

from official.data.seeds import random_seed

# AlexNet's (Krizhevsky et al. 2012) principal components of ImageNet RGB, in pixel units.
PCA_EIGVAL = (55.46, 4.794, 1.148)
PCA_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


def _seed(seed):
    return random_seed() if seed is None else seed


def color_jitter(image: tf.Tensor, strength: float = 0.4, seed=None) -> tf.Tensor:
    """Brightness and saturation scaled by factors from [1 - s, 1 + s] ([0.6, 1.4]); hue rotated by
    up to s * 180 degrees (GluonCV's HueJitterAug, which the Bag-of-Tricks code used).
    Float [H, W, 3] in 0..255 in and out; random draws are stateless, from `seed` ([2])."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(_seed(seed), 3))
    low, high = 1.0 - strength, 1.0 + strength
    image = image * tf.random.stateless_uniform([], seeds[0], low, high)
    image = tf.clip_by_value(image, 0.0, 255.0) / 255.0
    image = tf.image.adjust_saturation(image, tf.random.stateless_uniform([], seeds[1], low, high))
    image = tf.image.stateless_random_hue(image, strength / 2.0, seeds[2])
    return tf.clip_by_value(image, 0.0, 1.0) * 255.0


def pca_lighting(image: tf.Tensor, std: float = 0.1, seed=None) -> tf.Tensor:
    """AlexNet lighting noise: add eigvec @ (alpha * eigval), alpha ~ N(0, std), per image."""
    alpha = tf.random.stateless_normal([3], _seed(seed), stddev=std)
    rgb = tf.linalg.matvec(tf.constant(PCA_EIGVEC), alpha * tf.constant(PCA_EIGVAL))
    return tf.clip_by_value(image + rgb, 0.0, 255.0)


def cutmix(images: tf.Tensor, labels: tf.Tensor, alpha: float, seed: int | None = None):
    """CutMix (Yun et al. 2019), per sample: lambda ~ Beta(alpha, alpha); a box of sides
    int(sqrt(1 - lambda) * H) x int(sqrt(1 - lambda) * W) centred on a uniform random pixel and
    clipped to the image takes the pixels of another image of the batch (a random permutation);
    the labels mix with the area fractions the box actually leaves and takes, as the authors'
    code does after clipping (so label weights equal pixel proportions exactly).

    Written here rather than with keras.layers.CutMix, whose label weight comes from the
    unrounded box (off by up to a row and a column of pixels) and whose Beta parameter is itself
    drawn from [0, factor] instead of being alpha (docs/REFERENCE.md §2.7)."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    seeds = [None] * 5 if seed is None else [seed + i for i in range(5)]
    a = tf.random.gamma([batch], alpha, seed=seeds[0])
    b = tf.random.gamma([batch], alpha, seed=seeds[1])
    lam = a / tf.maximum(a + b, 1e-12)
    ratio = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(ratio * tf.cast(height, tf.float32), tf.int32)
    cut_w = tf.cast(ratio * tf.cast(width, tf.float32), tf.int32)
    cy = tf.random.uniform([batch], 0, height, tf.int32, seed=seeds[2])
    cx = tf.random.uniform([batch], 0, width, tf.int32, seed=seeds[3])
    y0 = tf.clip_by_value(cy - cut_h // 2, 0, height)
    y1 = tf.clip_by_value(cy + cut_h // 2, 0, height)
    x0 = tf.clip_by_value(cx - cut_w // 2, 0, width)
    x1 = tf.clip_by_value(cx + cut_w // 2, 0, width)
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = (
        (rows >= y0[:, None, None])
        & (rows < y1[:, None, None])
        & (cols >= x0[:, None, None])
        & (cols < x1[:, None, None])
    )
    order = tf.random.shuffle(tf.range(batch), seed=seeds[4])
    mixed = tf.where(inside[..., None], tf.gather(images, order), images)
    taken = tf.cast((y1 - y0) * (x1 - x0), tf.float32) / tf.cast(height * width, tf.float32)
    kept = tf.cast(1.0 - taken, labels.dtype)[:, None]
    return mixed, kept * labels + (1.0 - kept) * tf.gather(labels, order)


def batch_mixer(mixup_alpha: float, cutmix_alpha: float, seed: int | None = None):
    """A function (images, one_hot_labels) -> mixed batch, or None when both are off.

    mixup: Keras 3's MixUp (a per-sample Beta(alpha, alpha) weight, the same for the image and
    its label). CutMix: `cutmix` above with alpha = cutmix_alpha. With both on, each batch uses
    one of them, chosen with probability 1/2 (as timm's Mixup with switch_prob 0.5).
    """
    mixers = []
    if mixup_alpha > 0:
        layer = keras.layers.MixUp(alpha=mixup_alpha, seed=seed)

        def mixup(images, labels):
            out = layer({"images": images, "labels": labels}, training=True)
            return tf.cast(out["images"], images.dtype), tf.cast(out["labels"], labels.dtype)

        mixers.append(mixup)
    if cutmix_alpha > 0:
        mixers.append(lambda images, labels: cutmix(images, labels, cutmix_alpha, seed))
    if not mixers:
        return None

    def mix(images, labels):
        if len(mixers) == 1:
            return mixers[0](images, labels)
        return tf.cond(
            tf.random.uniform([]) < 0.5,
            lambda: mixers[0](images, labels),
            lambda: mixers[1](images, labels),
        )

    return mix
