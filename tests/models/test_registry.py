"""Every registered model: builds small, runs, trains one step, survives a .keras round trip."""

import keras
import numpy as np
import pytest

from official import models

# The names the foundation issue asks for.
RESNET_NAMES = """resnet18 resnet26 resnet34 resnet50 resnet101 resnet152 resnet200 resnet50c
resnet50d resnet101d resnet152d resnet200d seresnet50 seresnet101 resnext50_32x4d resnext101_32x4d
resnext101_32x8d seresnext50_32x4d resnet50_gn resnetrs50 resnetrs101 resnetrs152 resnetrs200
resnetrs270 resnetrs350 resnetrs420""".split()


def test_every_resnet_name_is_registered():
    assert set(RESNET_NAMES) <= set(models.list_models())
    assert models.list_models("resnet") == RESNET_NAMES
    assert models.list_models("resnest") == [
        "resnest14d",
        "resnest26d",
        "resnest50d",
        "resnest101e",
        "resnest200e",
    ]
    assert models.list_models("nfnet") == [
        "nf_resnet26",
        "nf_resnet50",
        "nf_resnet101",
        *[f"nfnet_f{i}" for i in range(7)],
    ]


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"Unknown model 'resnet5'.*Did you mean: .*resnet50"):
        models.get("resnet5")
    with pytest.raises(ValueError, match=r"Unknown model 'zzz'\. `official.models.list_models"):
        models.get("zzz")


def test_overrides_replace_defaults_and_name_is_set():
    model = models.get("resnetrs50", num_classes=7, dropout_rate=0.0, width_multiplier=0.25)
    assert model.name == "resnetrs50" and model.output.shape == (None, 7)
    assert "top_dropout" not in {layer.name for layer in model.layers}


def _tiny(name, **extra):
    """Each registered model at a tiny size that keeps its structure (stem, block types, SE,
    groups, norms): one block per stage, a fraction of the width, 32x32 inputs."""
    family = models.entry(name).family
    kwargs = dict(num_classes=5, input_shape=(32, 32, 3))
    if family in ("resnet", "resnest", "nfnet"):
        # NFNets at 1/8 width keep their group width of 128 / 8 = 16 channels.
        width = 0.125 if name.startswith("nfnet") else 0.25
        kwargs.update(width_multiplier=width, block_repeats=(1, 1, 1, 1))
    elif family in ("efficientnet", "mnasnet"):
        kwargs.update(width_multiplier=0.25, block_repeats=(1,) * 7)
    elif family == "shufflenet":
        kwargs.update(scale=0.25, block_repeats=(1, 1, 1))
    elif family == "attention":
        kwargs.update(width_multiplier=0.125, modules=(1, 1, 1))
    elif family == "video":
        kwargs.update(width_multiplier=0.25, block_repeats=(1, 1, 1, 1), input_shape=(4, 32, 32, 3))
    return models.get(name, **{**kwargs, **extra})


def _batch(model, n=4):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(n, *model.input.shape[1:])).astype("float32")
    return x, rng.integers(0, 5, size=(n,))


# One name per family (and per block type) in the development subset; the other names differ
# from these only in registered defaults (depth, width, variant) and run with the slow tests.
FAST_NAMES = {
    "resnet18",
    "resnetrs50",
    "resnext50_32x4d",
    "resnest14d",
    "nf_resnet26",
    "efficientnet_b0",
    "mnasnet_a1",
    "shufflenet_g3",
    "resnetrs50_3d",
}


@pytest.mark.parametrize(
    "name",
    [
        n if n in FAST_NAMES else pytest.param(n, marks=pytest.mark.slow)
        for n in models.list_models()
    ],
)
def test_tiny_build_forward_step_and_keras_round_trip(name, tmp_path):
    model = _tiny(name)
    x, y = _batch(model)
    logits = np.asarray(model(x))
    assert logits.shape == (4, 5) and np.all(np.isfinite(logits))

    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # (NF networks start with zero classifier weights and SkipInit gains, so their first step
    # moves only some weights: require that one step moved weights at all.)
    before = [np.asarray(w).copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    moved = [
        not np.array_equal(b, np.asarray(w))
        for b, w in zip(before, model.trainable_weights, strict=True)
    ]
    assert any(moved)

    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(restored(x)), np.asarray(model(x)))


@pytest.mark.usefixtures("mixed_bfloat16")
@pytest.mark.parametrize(
    "name",
    [
        "resnet50",
        "resnest50d",
        "nf_resnet50",
        "nfnet_f0",
        "efficientnet_b0",
        "mnasnet_a1",
        "mnasnet_b1",
        "shufflenet_g3",
        "attention56",
        "resnetrs50_3d",
    ],
)
def test_mixed_bfloat16_forward_per_family(name):
    model = _tiny(name)
    logits = model(_batch(model, 2)[0])
    assert logits.dtype == "float32" and np.all(np.isfinite(np.asarray(logits)))
    assert model.get_layer("stem_conv1").compute_dtype == "bfloat16"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "efficientnet_b0",
        "mnasnet_a1",
        "shufflenet_g3",
        "attention56",
        "resnetrs50_3d",
        "resnest14d",
        "nfnet_f0",
    ],
)
def test_each_family_trains_a_few_steps(name):
    model = _tiny(name)
    x, y = _batch(model, 8)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # Training-mode losses on one fixed batch (BN uses batch statistics, as while training).
    losses = [float(model.train_on_batch(x, y)) for _ in range(12)]
    assert np.all(np.isfinite(losses)) and np.mean(losses[-3:]) < np.mean(losses[:3])
