"""Source: the ResNet-RS checkpoints released with the paper (tensorflow/tpu,
models/official/resnet/resnet_rs; TF1 code in models/official/resnet/resnet_model.py).

That code builds the network with unnamed `tf.layers` calls at the top variable scope, so a
variable's name is its layer type plus its creation index: conv2d, conv2d_1, ...;
batch_normalization, batch_normalization_1, ...; dense. The creation order (read from
resnet_model.py and resnet_layers.py) is: the stem convs (three 3x3 for the ResNet-D stem, then
the 3x3/2 conv that replaces the max pool), each conv followed by its batch norm; then in every
block the projection shortcut's conv and batch norm (first block of a group only), conv1, bn,
conv2, bn, conv3, bn, and the SE's two 1x1 convs (with biases); finally `dense`. The runs keep
an exponential moving average of every weight and BN statistic (moving_average_decay 0.9999,
bn_momentum 0 in the released configs), which their evaluation uses:
`<name>/ExponentialMovingAverage` is read when present. Optimizer slots (`.../Momentum`),
`global_step` and the unused twin of each averaged variable carry nothing to convert. The
checkpoints use TF 'same' max pooling and BN epsilon 1e-5, our defaults; the layout has not been
checked against a downloaded checkpoint (docs/weights.md).
"""

from __future__ import annotations

import re

import keras
import numpy as np

from official.weights import layouts, storage
from official.weights.strict import Entry, owned_variables

EMA = "/ExponentialMovingAverage"
WEIGHT = re.compile(
    r"(conv2d|batch_normalization|dense)(_\d+)?/(kernel|bias|gamma|beta|moving_mean|moving_variance)"
)
_BLOCK = re.compile(r"stage(\d+)_block(\d+)_")


def is_checkpoint(path: str) -> bool:
    return storage.exists(path + ".index")


def read(prefix: str, use_ema: bool = True) -> tuple[dict[str, np.ndarray], list[str]]:
    """({variable name: value}, names left out) of a TF1 checkpoint: the model variables, each
    from its moving average when the checkpoint has one and use_ema."""
    import tensorflow as tf  # on use only (official/weights/storage.py says why)

    reader = tf.train.load_checkpoint(prefix)
    names = reader.get_variable_to_shape_map()
    tensors = {}
    for name in names:
        if WEIGHT.fullmatch(name):
            averaged = name + EMA
            tensors[name] = reader.get_tensor(averaged if use_ema and averaged in names else name)
    return tensors, [n for n in names if n not in tensors]


def _indexed(kind: str, index: int) -> str:
    return kind if index == 0 else f"{kind}_{index}"


def creation_order(model: keras.Model) -> tuple[list[str], list[str]]:
    """Our conv (and SE) layer paths and BN layer paths in the official code's creation order."""
    names = {layer.name for layer in model.layers}
    stem = [i for i in range(1, 5) if f"stem_conv{i}" in names]
    convs = [f"stem_conv{i}" for i in stem]
    norms = [f"stem_bn{i}" for i in stem]
    blocks = sorted(
        {(int(m[1]), int(m[2])) for n in names if (m := _BLOCK.match(n))},
    )
    for stage, block in blocks:
        prefix = f"stage{stage}_block{block}_"
        if prefix + "shortcut_conv" in names:
            convs.append(prefix + "shortcut_conv")
            norms.append(prefix + "shortcut_bn")
        for k in (1, 2, 3):
            if f"{prefix}conv{k}" in names:
                convs.append(f"{prefix}conv{k}")
                norms.append(f"{prefix}bn{k}")
        if prefix + "se" in names:
            convs += [prefix + "se/reduce", prefix + "se/expand"]
    return convs, norms


def plan(model: keras.Model) -> dict[str, Entry]:
    """The strict-fill plan of a model built by `resnet()` from the official TF1 names."""
    convs, norms = creation_order(model)
    module = {path: _indexed("conv2d", i) for i, path in enumerate(convs)}
    module.update({path: _indexed("batch_normalization", i) for i, path in enumerate(norms)})
    module["classifier"] = "dense"
    entries = {}
    for layer, variable, weight in owned_variables(model):
        if layer.path not in module:
            continue
        transform = layouts.identity
        if isinstance(layer, keras.layers.Dense) and layer.path != "classifier":
            transform = layouts.conv_1x1_to_dense  # SE: 1x1 convs in the checkpoint
        entries[weight.path] = Entry((f"{module[layer.path]}/{variable}",), transform)
    return entries


def ignored(tensors: dict, include_top: bool = True) -> list[str]:
    return [] if include_top else [k for k in tensors if k.startswith("dense/")]
