"""MnasNet-A1 and MnasNet-B1 at depth multiplier 1.0 (Tan et al. 2019, figure 7;
docs/REFERENCE.md §1.7), on the shared MBConv trunk (mbconv.py): ReLU, BN momentum 0.99,
dropout 0.2."""

from __future__ import annotations

import keras

from official.models import registry
from official.models.mbconv import Stage, mbconv_network, with_repeats

# Block tables of the official TF code (mnasnet_models.py): repeats, kernel, stride, expand,
# in, out, SE ratio (of the block input), identity skip.
A1_STAGES = (
    Stage(1, 3, 1, 1, 32, 16, 0.0, skip=False),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(3, 5, 2, 3, 24, 40, 0.25),
    Stage(4, 3, 2, 6, 40, 80),
    Stage(2, 3, 1, 6, 80, 112, 0.25),
    Stage(3, 5, 2, 6, 112, 160, 0.25),
    Stage(1, 3, 1, 6, 160, 320),
)
B1_STAGES = (
    Stage(1, 3, 1, 1, 32, 16, 0.0, skip=False),
    Stage(3, 3, 2, 3, 16, 24),
    Stage(3, 5, 2, 3, 24, 40),
    Stage(3, 5, 2, 6, 40, 80),
    Stage(2, 3, 1, 6, 80, 96),
    Stage(4, 5, 2, 6, 96, 192),
    Stage(1, 3, 1, 6, 192, 320, 0.0, skip=False),
)
TABLES = {"a1": A1_STAGES, "b1": B1_STAGES}


@registry.forwards_to(mbconv_network)
def mnasnet(
    variant: str = "a1",
    *,
    depth_multiplier: float = 1.0,
    dropout_rate: float = 0.2,
    width_multiplier: float = 1.0,
    block_repeats=None,
    **kwargs,
) -> keras.Model:
    if variant not in TABLES:
        raise ValueError(f"variant={variant!r}; MnasNets here are {sorted(TABLES)}.")
    stages = TABLES[variant]
    if block_repeats is not None:
        stages = with_repeats(stages, block_repeats)
    kwargs.setdefault("name", f"mnasnet_{variant}")
    return mbconv_network(
        stages,
        width=depth_multiplier * width_multiplier,
        activation="relu",
        dropout_rate=dropout_rate,
        **kwargs,
    )


for _variant in TABLES:
    registry.register(f"mnasnet_{_variant}", mnasnet, family="mnasnet", variant=_variant)
