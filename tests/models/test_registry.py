"""Every registered model: builds small, runs, trains one step, survives a .keras round trip,
and gives its backbone features."""

import json

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

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
    return models.get(name, **{**_tiny_kwargs(name), **extra})


def _tiny_kwargs(name) -> dict:
    """The overrides `_tiny` builds `name` with."""
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
    return kwargs


def _logits(model, x):
    """model(x) in inference mode; on JAX as one jitted call (predict_on_batch): JAX compiles
    each op of an eager call on its own, which took 5-7x as long as compiling the whole pass."""
    if keras.backend.backend() == "jax":
        return model.predict_on_batch(x)
    return model(x)


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


# Names whose tiny model (_tiny) is the same network as an earlier name's: at one block per stage
# and a fixed width they differ only in depth (or in a width or resolution _tiny overrides).
# Each is built and run; stepping and reloading it again would repeat its twin's test exactly.
# test_every_name_runs_tiny_and_the_twins_are_exact checks this table against the configs.
TWINS = {
    "resnet34": "resnet18",
    **dict.fromkeys(["resnet50", "resnet101", "resnet152", "resnet200"], "resnet26"),
    **dict.fromkeys(["resnet101d", "resnet152d", "resnet200d"], "resnet50d"),
    "seresnet101": "seresnet50",
    "resnext101_32x4d": "resnext50_32x4d",
    **dict.fromkeys(["resnetrs101", "resnetrs152"], "resnetrs50"),
    **dict.fromkeys(["resnetrs270", "resnetrs350", "resnetrs420"], "resnetrs200"),
    **dict.fromkeys(["resnest26d", "resnest50d"], "resnest14d"),
    "resnest200e": "resnest101e",
    **dict.fromkeys(["nf_resnet50", "nf_resnet101"], "nf_resnet26"),
    "nfnet_f3": "nfnet_f2",
    **dict.fromkeys(["nfnet_f5", "nfnet_f6"], "nfnet_f4"),
    "efficientnet_b1": "efficientnet_b0",
    "attention92": "attention56",
}


def _network(model) -> str:
    """The model's config as text, without the names Keras numbers per model (its own and its
    input layer's)."""
    config = model.get_config()
    del config["name"]
    input_name = model.layers[0].name
    return json.dumps(config, sort_keys=True, default=str).replace(f'"{input_name}"', '"input"')


@pytest.mark.slow
def test_every_name_runs_tiny_and_the_twins_are_exact():
    first_with = {}
    twins = {}
    for name in models.list_models():
        model = _tiny(name)
        logits = to_numpy(_logits(model, _batch(model)[0]))
        assert logits.shape == (4, 5) and np.all(np.isfinite(logits)), name
        first = first_with.setdefault(_network(model), name)
        if first != name:
            twins[name] = first
            # The twin's features (tested in the test below) are this name's too.
            info = models.feature_info(name, **_tiny_kwargs(name))
            assert info == models.feature_info(first, **_tiny_kwargs(first)), name
    assert twins == TWINS


def _param(name):
    return name if name in FAST_NAMES else pytest.param(name, marks=pytest.mark.slow)


def _check_backbone_features(name, classifier, x):
    """get(name, features_only=True), given the classifier's weights layer by layer, returns the
    classifier's own tensors at the layers feature_info names, keyed P<log2 reduction> by the
    shapes it computes, with feature_info's channels (and time reduction for clips)."""
    info = models.feature_info(name, **_tiny_kwargs(name))
    backbone = models.get(name, features_only=True, **_tiny_kwargs(name))
    for layer in backbone.layers:
        if layer.weights:
            layer.set_weights(classifier.get_layer(layer.name).get_weights())
    taps = keras.Model(classifier.input, [classifier.get_layer(f["layer"]).output for f in info])
    wanted = [to_numpy(t) for t in _logits(taps, x)]
    got = {k: to_numpy(v) for k, v in _logits(backbone, x).items()}
    assert list(got) == [f["key"] for f in info] and len(info) == 5, info
    *time, side = x.shape[1:-2]  # [T,] H
    for feature, want in zip(info, wanted, strict=True):
        shape = (len(x), *[t // feature.get("temporal_reduction", 1) for t in time])
        shape += (side // 2 ** int(feature["key"][1:]),) * 2 + (feature["channels"],)
        assert feature["reduction"] == 2 ** int(feature["key"][1:]), feature
        assert got[feature["key"]].shape == shape, (feature, got[feature["key"]].shape)
        np.testing.assert_array_equal(got[feature["key"]], want, err_msg=feature["key"])


@pytest.mark.parametrize("name", [_param(n) for n in models.list_models() if n not in TWINS])
def test_tiny_build_forward_step_and_keras_round_trip(name, tmp_path):
    """(And, on TensorFlow, its backbone features: _check_backbone_features.)"""
    model = _tiny(name)
    x, y = _batch(model)
    logits = to_numpy(_logits(model, x))
    assert logits.shape == (4, 5) and np.all(np.isfinite(logits))

    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # (NF networks start with zero classifier weights and SkipInit gains, so their first step
    # moves only some weights: require that one step moved weights at all.)
    before = [to_numpy(w).copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    moved = [
        not np.array_equal(b, to_numpy(w))
        for b, w in zip(before, model.trainable_weights, strict=True)
    ]
    assert any(moved)

    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(_logits(restored, x)), to_numpy(_logits(model, x)))
    # Every name on TensorFlow; the JAX and PyTorch runs (tests/backends) check features on the
    # families of tests/models/test_features.py, as these two builds and compiles per name
    # would add about 25 s per backend to them.
    if keras.backend.backend() == "tensorflow":
        _check_backbone_features(name, model, x)


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
    logits = _logits(model, _batch(model, 2)[0])
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(to_numpy(logits)))
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


def test_every_name_knows_the_arguments_it_accepts():
    # builders taking **kwargs declare where they go (registry.forwards_to)
    for name in models.list_models():
        assert "num_classes" in models.accepted_arguments(name), name
    assert {"variant", "bn_epsilon", "padding"} <= models.accepted_arguments("efficientnet_b0")
    assert {"temporal_kernels", "width_multiplier"} <= models.accepted_arguments("resnetrs50_3d")


def test_parameter_count_is_the_built_models_count_and_refuses_weights():
    kwargs = _tiny_kwargs("resnet18")
    assert models.parameter_count("resnet18", **kwargs) == models.count_parameters(
        models.get("resnet18", **kwargs)
    )
    with pytest.raises(ValueError, match="weights= does not apply"):
        models.parameter_count("resnet18", weights="resnet18.safetensors")
