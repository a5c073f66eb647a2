"""EfficientNet-B0..B7 (Tan & Le 2019; docs/REFERENCE.md §1.7) on the shared MBConv trunk
(mbconv.py).

Compound scaling: each variant is B0's block table with widths x w (rounded to multiples of 8)
and repeats x d (rounded up), at resolution r, with its dropout. The networks accept any input
size. EfficientNet-RS (Bello et al. 2021, section 7.2) is these same networks, width and depth
unchanged, trained at reduced resolutions: a training recipe, not a network
(official/configs/recipes.py, `efficientnet_rs_b4_i320`).
"""

from __future__ import annotations

import keras

from official.models import registry
from official.models.mbconv import Stage, mbconv_network, with_repeats

# B0 (EfficientNet, table 1): repeats, kernel, stride, expand, in, out, SE 0.25 of the input.
B0_STAGES = (
    Stage(1, 3, 1, 1, 32, 16, 0.25),
    Stage(2, 3, 2, 6, 16, 24, 0.25),
    Stage(2, 5, 2, 6, 24, 40, 0.25),
    Stage(3, 3, 2, 6, 40, 80, 0.25),
    Stage(3, 5, 1, 6, 80, 112, 0.25),
    Stage(4, 5, 2, 6, 112, 192, 0.25),
    Stage(1, 3, 1, 6, 192, 320, 0.25),
)
# (width, depth, resolution, dropout) per variant (docs/REFERENCE.md §1.7).
COEFFICIENTS = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}


@registry.forwards_to(mbconv_network)
def efficientnet(
    variant: str = "b0",
    *,
    drop_connect_rate: float = 0.2,
    dropout_rate: float | None = None,
    width_multiplier: float = 1.0,
    block_repeats=None,
    **kwargs,
) -> keras.Model:
    """EfficientNet-`variant`: MBConv + SE 0.25, swish, drop connect 0.2, BN momentum 0.99.
    width_multiplier / block_repeats further shrink it (tests, studies)."""
    if variant not in COEFFICIENTS:
        raise ValueError(f"variant={variant!r}; EfficientNets are {sorted(COEFFICIENTS)}.")
    width, depth, _, dropout = COEFFICIENTS[variant]
    stages = B0_STAGES
    if block_repeats is not None:
        stages, depth = with_repeats(stages, block_repeats), 1.0
    kwargs.setdefault("name", f"efficientnet_{variant}")
    return mbconv_network(
        stages,
        width=width * width_multiplier,
        depth=depth,
        activation="swish",
        drop_connect_rate=drop_connect_rate,
        dropout_rate=dropout if dropout_rate is None else dropout_rate,
        **kwargs,
    )


for _variant in COEFFICIENTS:
    registry.register(
        f"efficientnet_{_variant}", efficientnet, family="efficientnet", variant=_variant
    )
