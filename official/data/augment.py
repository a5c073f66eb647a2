"""Augmentations other than RandAugment: the Bag-of-Tricks colour jitter and PCA lighting
(per image, SPEC 2.1), and mixup / CutMix (per batch, through Keras 3's own layers)."""

from __future__ import annotations

import keras
import tensorflow as tf

# AlexNet's (Krizhevsky et al. 2012) principal components of ImageNet RGB, in pixel units.
PCA_EIGVAL = (55.46, 4.794, 1.148)
PCA_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


def color_jitter(image: tf.Tensor, strength: float = 0.4) -> tf.Tensor:
    """Brightness and saturation scaled by factors from [1 - s, 1 + s] ([0.6, 1.4]); hue rotated by
    up to s * 180 degrees (GluonCV's HueJitterAug, which the Bag-of-Tricks code used).
    Float [H, W, 3] in 0..255 in and out."""
    image = image * tf.random.uniform([], 1.0 - strength, 1.0 + strength)
    image = tf.clip_by_value(image, 0.0, 255.0) / 255.0
    image = tf.image.adjust_saturation(image, tf.random.uniform([], 1.0 - strength, 1.0 + strength))
    image = tf.image.random_hue(image, strength / 2.0)
    return tf.clip_by_value(image, 0.0, 1.0) * 255.0


def pca_lighting(image: tf.Tensor, std: float = 0.1) -> tf.Tensor:
    """AlexNet lighting noise: add eigvec @ (alpha * eigval), alpha ~ N(0, std), per image."""
    alpha = tf.random.normal([3], stddev=std)
    rgb = tf.linalg.matvec(tf.constant(PCA_EIGVEC), alpha * tf.constant(PCA_EIGVAL))
    return tf.clip_by_value(image + rgb, 0.0, 255.0)


def batch_mixer(mixup_alpha: float, cutmix_alpha: float, seed: int | None = None):
    """A function (images, one_hot_labels) -> mixed batch, or None when both are off.

    mixup: Keras 3's MixUp (a per-sample Beta(alpha, alpha) weight). CutMix: Keras 3's CutMix with
    `factor=cutmix_alpha`. With both on, each batch uses one of them, chosen with probability 1/2
    (as timm's Mixup with switch_prob 0.5).
    """
    layers = []
    if mixup_alpha > 0:
        layers.append(keras.layers.MixUp(alpha=mixup_alpha, seed=seed))
    if cutmix_alpha > 0:
        layers.append(keras.layers.CutMix(factor=cutmix_alpha, seed=seed))
    if not layers:
        return None

    def apply(layer, images, labels):
        out = layer({"images": images, "labels": labels}, training=True)
        return tf.cast(out["images"], images.dtype), tf.cast(out["labels"], labels.dtype)

    def mix(images, labels):
        if len(layers) == 1:
            return apply(layers[0], images, labels)
        return tf.cond(
            tf.random.uniform([]) < 0.5,
            lambda: apply(layers[0], images, labels),
            lambda: apply(layers[1], images, labels),
        )

    return mix
