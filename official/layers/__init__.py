"""Building blocks shared by the model families."""

from official.layers.conv import conv2d, he_init
from official.layers.grouped_conv import GroupedConv2D, grouped_convolution
from official.layers.norm import NORMS, group_count, norm_act, norm_layer
from official.layers.squeeze_excite import SqueezeExcite, se_filters
from official.layers.stochastic_depth import StochasticDepth
from official.layers.weight_standardization import StandardizedConv2D

__all__ = [
    "NORMS",
    "GroupedConv2D",
    "SqueezeExcite",
    "StandardizedConv2D",
    "StochasticDepth",
    "conv2d",
    "grouped_convolution",
    "he_init",
    "group_count",
    "norm_act",
    "norm_layer",
    "se_filters",
]
