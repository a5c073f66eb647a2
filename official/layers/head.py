"""The end of every classifier: global pooling, dropout, dense logits in float32."""

from __future__ import annotations

import keras

from official.layers.replica_random import Dropout

POOLINGS = (None, "avg", "max")


def global_pool(kind: str, x):
    """Global average/max pooling over space (and time, for video tensors)."""
    video = len(x.shape) == 5
    layer = {
        ("avg", False): keras.layers.GlobalAveragePooling2D,
        ("avg", True): keras.layers.GlobalAveragePooling3D,
        ("max", False): keras.layers.GlobalMaxPooling2D,
        ("max", True): keras.layers.GlobalMaxPooling3D,
    }[kind, video]
    return layer(name=f"{kind}_pool")(x)


def classifier_head(
    x,
    *,
    num_classes: int,
    include_top: bool = True,
    pooling: str | None = None,
    dropout_rate: float = 0.0,
    classifier_activation: str | None = None,
    kernel_initializer="glorot_uniform",
):
    """include_top: average pool, dropout, Dense(num_classes), then an activation (linear:
    logits) computed in float32 whatever the policy. Otherwise the features, pooled by
    `pooling` ('avg', 'max') or not (None), as keras.applications does."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling={pooling!r} is not known; use None, 'avg' or 'max'.")
    if not include_top:
        return global_pool(pooling, x) if pooling else x
    x = global_pool("avg", x)
    if dropout_rate:
        x = Dropout(dropout_rate, name="top_dropout")(x)
    x = keras.layers.Dense(num_classes, kernel_initializer=kernel_initializer, name="classifier")(x)
    # Logits leave the model in float32 whatever the compute dtype (mixed precision).
    return keras.layers.Activation(
        classifier_activation or "linear", dtype="float32", name="predictions"
    )(x)
