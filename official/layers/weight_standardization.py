"""Convolutions whose kernels are standardized per output channel before use.

Plain (BiT, Kolesnikov et al. 2020; Qiao et al. 2019):
    W' = (W - mean) / sqrt(var + eps), eps 1e-5.
Scaled (NF-ResNet, Brock et al. 2021a, eq. 2):
    W' = gain * (W - mean) / sqrt(max(var * fan_in, eps)),  (max, as in the released NFNets)
with a learnable per-channel gain (init 1), eps 1e-4, and a bias. One class serves both.
eps_mode='add' computes sqrt((var + eps) * fan_in) instead: timm's ScaledStdConv2d (eps 1e-5 in
its `dm_nfnet_*`), needed to reproduce weights converted from timm (docs/weights.md).
Mean and variance run over every axis but the last (kernel height, width and input channels).
"""

from __future__ import annotations

import keras
from keras import ops

from official.layers.grouped_conv import GroupedConv2D

# How a scaled kernel's variance meets eps: max(var * fan_in, eps) or (var + eps) * fan_in.
EPS_MODES = ("max", "add")


@keras.saving.register_keras_serializable(package="official")
class StandardizedConv2D(GroupedConv2D):
    """A Conv2D that convolves with the standardized kernel; the stored kernel stays raw.
    Grouped, it convolves per group where that is faster (official/layers/grouped_conv.py)."""

    def __init__(
        self,
        *args,
        scaled: bool = False,
        eps: float | None = None,
        eps_mode: str = "max",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if eps_mode not in EPS_MODES:
            raise ValueError(f"eps_mode={eps_mode!r} is not known; use one of {EPS_MODES}.")
        self.scaled = scaled
        self.eps = eps if eps is not None else (1e-4 if scaled else 1e-5)
        self.eps_mode = eps_mode

    def build(self, input_shape):
        super().build(input_shape)
        if self.scaled:
            self.gain = self.add_weight(
                name="gain", shape=(self.filters,), initializer="ones", trainable=True
            )

    def standardized_kernel(self, kernel=None):
        """The kernel the convolution uses, computed in float32 whatever the compute dtype."""
        kernel = ops.cast(self.kernel if kernel is None else kernel, "float32")
        axes = tuple(range(len(kernel.shape) - 1))
        mean = ops.mean(kernel, axis=axes, keepdims=True)
        var = ops.var(kernel, axis=axes, keepdims=True)
        if self.scaled:
            fan_in = 1
            for dim in kernel.shape[:-1]:
                fan_in *= dim
            if self.eps_mode == "max":
                scale = ops.rsqrt(ops.maximum(var * fan_in, self.eps))
            else:
                scale = ops.rsqrt((var + self.eps) * fan_in)
            return ops.cast(self.gain, "float32") * (kernel - mean) * scale
        return (kernel - mean) / ops.sqrt(var + self.eps)

    def convolution_op(self, inputs, kernel):
        kernel = ops.cast(self.standardized_kernel(kernel), self.compute_dtype)
        return super().convolution_op(inputs, kernel)

    def _own_variables(self) -> list:
        variables = [self.kernel] + ([self.bias] if self.use_bias else [])
        return variables + ([self.gain] if self.scaled else [])

    # Keras' Conv saves exactly [kernel, bias]; the gain has to be added to .keras files here.
    def save_own_variables(self, store):
        if self.built:
            for i, variable in enumerate(self._own_variables()):
                store[str(i)] = variable

    def load_own_variables(self, store):
        variables = self._own_variables()
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"Layer {self.name!r} expects {len(variables)} variables "
                f"({', '.join(v.name for v in variables)}), the file has {len(store.keys())}."
            )
        for i, variable in enumerate(variables):
            variable.assign(store[str(i)])

    def get_config(self):
        return {
            **super().get_config(),
            "scaled": self.scaled,
            "eps": self.eps,
            "eps_mode": self.eps_mode,
        }
