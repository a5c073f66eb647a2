"""Which timm model each registered name converts from, and the conventions its weights need.

Parameter counts of every pair are equal (timm 1.0.31). The conventions are builder arguments
(official/layers/padding.py, BN epsilon, the NFNet switches) that make our network compute what
timm's does with the same tensors; `weights=` applies them (docs/weights.md). Where two timm
models share a registered name (efficientnet_b0: tf_efficientnet_b0 and efficientnet_b0), the
file name tells them apart (timm's hub files are `<timm name>.<tag>`), or --timm_name does.
"""

from __future__ import annotations

# timm's ResNet trunk pools with PyTorch padding (MaxPool2d(3, 2, padding=1)).
SYMMETRIC = {"padding": "symmetric"}
# timm's PyTorch-trained EfficientNet / MnasNet: PyTorch padding and BatchNorm2d's eps.
TORCH_MBCONV = {"padding": "symmetric", "bn_epsilon": 1e-5}
# timm's dm_nfnet_*: erf GELU and ScaledStdConv2dSame's eps added to the variance.
TIMM_NFNET = {"activation": "gelu_exact", "ws_epsilon": 1e-5, "ws_epsilon_mode": "add"}

_MAX_POOL_RESNETS = (
    "resnet18 resnet26 resnet34 resnet50 resnet101 resnet152 resnet200 resnet50c resnet50d "
    "resnet101d resnet152d resnet200d seresnet50 seresnet101 resnext50_32x4d resnext101_32x4d "
    "resnext101_32x8d seresnext50_32x4d resnet50_gn "
    "resnest14d resnest26d resnest50d resnest101e resnest200e"
).split()
_VARIANTS = "b0 b1 b2 b3 b4 b5 b6 b7".split()

# registered name -> ((timm name, conventions), ...)
TIMM_NAMES: dict[str, tuple[tuple[str, dict], ...]] = {
    **{name: ((name, SYMMETRIC),) for name in _MAX_POOL_RESNETS},
    # ResNet-RS replaces the max pool by a strided conv: no padding convention to set.
    **{f"resnetrs{d}": ((f"resnetrs{d}", {}),) for d in (50, 101, 152, 200, 270, 350, 420)},
    **{f"nfnet_f{i}": ((f"dm_nfnet_f{i}", TIMM_NFNET),) for i in range(7)},
    # tf_*: timm's ports of the official TF checkpoints, which already match our defaults.
    **{
        f"efficientnet_{v}": ((f"tf_efficientnet_{v}", {}), (f"efficientnet_{v}", TORCH_MBCONV))
        for v in _VARIANTS
    },
    "mnasnet_a1": (("semnasnet_100", TORCH_MBCONV),),
    "mnasnet_b1": (("mnasnet_100", TORCH_MBCONV),),
}

# Registered names whose timm namesake is a different network (no exact conversion exists).
NOT_CONVERTIBLE = {
    f"nf_resnet{d}": (
        f"timm's nf_resnet{d} shortcuts through an average pool, has a stem-conv bias and no "
        "SkipInit gains; ours follows DeepMind's NF-ResNet (strided 1x1 shortcut, no bias, "
        "SkipInit)"
    )
    for d in (26, 50, 101)
}


# builder family (official/models/registry.py) -> the timm mapping it uses (timm.py)
TIMM_MAPPING = {
    "resnet": "resnet",
    "resnest": "resnet",
    "efficientnet": "mbconv",
    "mnasnet": "mbconv",
    "nfnet": "nfnet",
}


def candidates(name: str | None, family: str, family_of: dict[str, str]) -> list[tuple[str, dict]]:
    """The (timm name, conventions) a model of builder `family` registered as `name` (None: built
    directly, so any timm name of the family) can convert from; family_of: registered name ->
    family."""
    if name in TIMM_NAMES:
        return list(TIMM_NAMES[name])
    return [
        pair
        for ours, pairs in TIMM_NAMES.items()
        if family_of.get(ours) == family
        for pair in pairs
    ]


def markdown_table() -> str:
    """The docs/weights.md table: each registered name, its timm name(s) and the
    conventions `weights=` applies for each (`python -m official.weights table` prints it)."""

    def fmt(conventions: dict) -> str:
        return ", ".join(f"`{k}={v!r}`" for k, v in conventions.items()) or "none"

    rows = ["| ours | timm | conventions `weights=` applies |", "|---|---|---|"]
    for ours, pairs in TIMM_NAMES.items():
        timm = " / ".join(f"`{t}`" for t, _ in pairs)
        rows.append(f"| `{ours}` | {timm} | {' / '.join(fmt(c) for _, c in pairs)} |")
    reason = next(iter(NOT_CONVERTIBLE.values())).replace("nf_resnet26", "nf_resnet*")
    names = ", ".join(f"`{n}`" for n in NOT_CONVERTIBLE)
    rows.append(f"| {names} | not convertible | {reason} |")
    return "\n".join(rows)
