"""Channel shuffle (ShuffleNet, Zhang et al. 2018, section 3.1): let grouped convolutions see
channels from every group of the previous one."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="official")
class ChannelShuffle(keras.layers.Layer):
    """View the C channels as [groups, C / groups], transpose, flatten. A permutation: shuffling
    with `C / groups` groups undoes it."""

    def __init__(self, groups: int, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, x):
        channels = x.shape[-1]
        if channels % self.groups:
            raise ValueError(f"{channels} channels cannot be shuffled in {self.groups} groups.")
        leading = ops.shape(x)[:-1]
        grouped = ops.reshape(x, (*leading, self.groups, channels // self.groups))
        rank = len(x.shape)
        perm = (*range(rank - 1), rank, rank - 1)
        return ops.reshape(ops.transpose(grouped, perm), ops.shape(x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}
