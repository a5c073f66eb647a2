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


def _tiny(name):
    # Keep each variant's structure (stem, shortcut, SE, groups, norm) but one block per stage.
    return models.get(
        name,
        width_multiplier=0.25,
        block_repeats=(1, 1, 1, 1),
        num_classes=5,
        input_shape=(32, 32, 3),
    )


@pytest.mark.parametrize("name", models.list_models())
def test_tiny_build_forward_step_and_keras_round_trip(name, tmp_path):
    model = _tiny(name)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(4, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 5, size=(4,))
    logits = np.asarray(model(x))
    assert logits.shape == (4, 5) and np.all(np.isfinite(logits))

    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    kernel = model.get_layer("stem_conv1").kernel
    before = np.asarray(kernel).copy()
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert not np.array_equal(before, np.asarray(kernel))  # one gradient step moved the weights

    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(restored(x)), np.asarray(model(x)))


@pytest.mark.usefixtures("mixed_bfloat16")
@pytest.mark.parametrize("name", ["resnet50", "resnest50d", "nf_resnet50", "nfnet_f0"])
def test_mixed_bfloat16_forward_per_family(name):
    model = _tiny(name)
    logits = model(np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32"))
    assert logits.dtype == "float32" and np.all(np.isfinite(np.asarray(logits)))
    assert model.get_layer("stem_conv1").compute_dtype == "bfloat16"
