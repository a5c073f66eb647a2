"""Layers of the normalizer-free networks (Brock et al. 2021a, NF-ResNets; 2021b, NFNets).

Variance-preserving activations: gamma * g(x) has unit variance for x ~ N(0, 1) (NF-ResNets,
section 4.1 and appendix D); the gammas are the released models' values.

'gelu' is the tanh approximation, as DeepMind's NFNets compute it; 'gelu_exact' is the erf form
that timm's `dm_nfnet_*` ports use, with the same released gamma (timm `_nonlin_gamma['gelu']`).
"""

from __future__ import annotations

import keras
from keras import ops

# gamma = 1 / std(g(z)), z ~ N(0, 1).
GAMMAS = {
    "relu": 1.7139588594436646,
    "gelu": 1.7015043497085571,  # tanh-approximated GELU, as in the released NFNets
    "gelu_exact": 1.7015043497085571,  # erf GELU (timm), same released constant
    "silu": 1.7881293296813965,
    "linear": 1.0,
}


@keras.saving.register_keras_serializable(package="official")
class ScaledActivation(keras.layers.Layer):
    """scale * gamma * g(x). NF blocks fold their input scaling 1/beta into `scale`."""

    def __init__(self, activation: str = "relu", scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if activation not in GAMMAS:
            raise ValueError(f"activation={activation!r}; NF networks support {sorted(GAMMAS)}.")
        self.activation = activation
        self.scale = scale

    def call(self, x):
        if self.activation in ("gelu", "gelu_exact"):
            y = keras.activations.gelu(x, approximate=self.activation == "gelu")
        else:
            y = keras.activations.get(self.activation)(x)
        return y * ops.cast(GAMMAS[self.activation] * self.scale, y.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": self.activation, "scale": self.scale}


@keras.saving.register_keras_serializable(package="official")
class SkipInitGain(keras.layers.Layer):
    """x * g with one learnable scalar g, initialized to 0 (SkipInit, De & Smith 2020): a fresh
    residual block is the identity on its shortcut."""

    def __init__(self, initial_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_value = initial_value

    def build(self, input_shape):
        self.gain = self.add_weight(
            name="gain", shape=(), initializer=keras.initializers.Constant(self.initial_value)
        )

    def call(self, x):
        return x * ops.cast(self.gain, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "initial_value": self.initial_value}
