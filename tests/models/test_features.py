"""official/models/features.py through `models.get(name, features_only=True)` and
`models.feature_info`: the layer each family's rule picks (against timm's feature_info, read
from its source), out_indices, `.keras` round trips, weights= files, 3-D reductions. Every
registered name's features equal its classifier's tensors in tests/models/test_registry.py."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from official import models
from official.models import features, stages
from official.models.counting import shapes_only
from tests.models.test_registry import _logits, _tiny, _tiny_kwargs

KEYS = ["P1", "P2", "P3", "P4", "P5"]


def _layers(name, **overrides):
    return [f["layer"] for f in models.feature_info(name, **overrides)]


# At _tiny's one block per stage: timm's modules in our names (timm ResNet act1/layer1..4;
# NormFreeNet stem.conv3 / stem.conv, stages, final_conv; EfficientNet's block outputs).
TINY_LAYERS = {
    "resnet18": ["stem_relu1", *[f"stage{s}_block1_out" for s in (2, 3, 4, 5)]],
    "resnetrs50": ["stem_relu3", *[f"stage{s}_block1_out" for s in (2, 3, 4, 5)]],
    "nfnet_f0": ["stem_conv2", *[f"stage{s}_block1_out" for s in (2, 3, 4)], "final_conv"],
    "nf_resnet26": ["stem_conv1", *[f"stage{s}_block1_out" for s in (2, 3, 4, 5)]],
    # (At width 0.25 stage 1 keeps 8 channels, so its block ends in the identity add.)
    "efficientnet_b0": [
        "stage1_block1_add",
        *[f"stage{s}_block1_project_bn" for s in (2, 3, 5, 7)],
    ],
    "shufflenet_g3": ["stem_relu", "stem_pool", *[f"stage{s}_block1_out" for s in (2, 3, 4)]],
    "attention56": [
        "stem_relu",
        *[f"stage{s}_attention1_post1_out" for s in (2, 3, 4)],
        "stage5_unit3_out",
    ],
}


@pytest.mark.parametrize("name", TINY_LAYERS)
def test_each_family_s_rule_picks_timm_s_layers(name):
    info = models.feature_info(name, **_tiny_kwargs(name))
    assert [f["key"] for f in info] == KEYS
    assert [f["reduction"] for f in info] == [2, 4, 8, 16, 32]
    assert [f["layer"] for f in info] == TINY_LAYERS[name]


def test_full_size_channels_are_timm_s():
    # timm's feature_info channels: resnet50, nf_resnet50, dm_nfnet_f0, efficientnet_b0,
    # mnasnet_100 (our B1) and semnasnet_100 (our A1); the 1x1 head convs are not features.
    expected = {
        "resnet50": [64, 256, 512, 1024, 2048],
        "resnet18": [64, 64, 128, 256, 512],
        "nf_resnet50": [64, 256, 512, 1024, 2048],
        "nfnet_f0": [64, 256, 512, 1536, 3072],
        "efficientnet_b0": [16, 24, 40, 112, 320],
        "mnasnet_b1": [16, 24, 40, 96, 320],
        "mnasnet_a1": [16, 24, 40, 112, 320],
    }
    for name, channels in expected.items():
        assert [f["channels"] for f in models.feature_info(name)] == channels, name


def test_video_features_reduce_time_by_the_stem_and_space_by_the_stages():
    info = models.feature_info("resnetrs50_3d", **_tiny_kwargs("resnetrs50_3d"))
    assert [f["reduction"] for f in info] == [2, 4, 8, 16, 32]
    assert [f["temporal_reduction"] for f in info] == [2] * 5  # the stem conv's time stride
    still = models.feature_info("resnetrs50_3d", stem_temporal_stride=1)
    assert [f["temporal_reduction"] for f in still] == [1] * 5
    with shapes_only():  # (4, 32, 32) clips: 2 frames, 32 / reduction pixels
        backbone = models.get("resnetrs50_3d", features_only=True, **_tiny_kwargs("resnetrs50_3d"))
    shapes = {k: tuple(v.shape) for k, v in backbone.output.items()}
    assert shapes == {
        f["key"]: (None, 2, *(32 // f["reduction"],) * 2, f["channels"]) for f in info
    }


def test_out_indices_select_by_timm_index_or_key_and_refuse_the_rest():
    with shapes_only():
        backbone = models.get(
            "resnet18", features_only=True, out_indices=(2, "P4"), **_tiny_kwargs("resnet18")
        )
        assert list(backbone.output) == ["P2", "P4"]
        for wrong in ((6,), ("C3",), (True,), 0):
            with pytest.raises(
                ValueError, match=r"not a feature of resnet18; use 1, 2, 3, 4, 5 or 'P1'"
            ):
                models.get("resnet18", features_only=True, out_indices=wrong)
        with pytest.raises(ValueError, match="pass features_only=True too"):
            models.get("resnet18", out_indices=(2,))
        with pytest.raises(ValueError, match="features_only=True builds pooling=None"):
            models.get("resnet18", features_only=True, pooling="avg")
        with pytest.raises(ValueError, match="features_only=True builds include_top=False"):
            models.get("resnet18", features_only=True, include_top=True)


def test_feature_info_reads_a_built_model_or_features_model():
    kwargs = _tiny_kwargs("shufflenet_g3")
    by_name = models.feature_info("shufflenet_g3", **kwargs)
    with shapes_only():
        classifier = models.get("shufflenet_g3", **kwargs)
        backbone = models.get("shufflenet_g3", features_only=True, out_indices=(1, 5), **kwargs)
    assert models.feature_info(classifier) == by_name
    assert models.feature_info(backbone) == [by_name[0], by_name[4]]
    with pytest.raises(ValueError, match="no overrides"):
        models.feature_info(classifier, width_multiplier=0.5)
    with pytest.raises(ValueError, match="no backbone-feature rule"):
        features.rule("transformer")


def test_the_rule_never_takes_a_head_layer():
    # stages.HEAD_LAYERS are the head; every feature sits in the stem, a stage or the neck.
    for name in ("efficientnet_b0", "nfnet_f0", "attention56"):
        with shapes_only():
            model = _tiny(name)
        for feature in models.feature_info(name, **_tiny_kwargs(name)):
            part = stages.part_of(model.get_layer(feature["layer"]))
            assert part.kind in (stages.STEM, stages.STAGE, stages.NECK), feature


def _taps(classifier, info, x):
    taps = keras.Model(classifier.input, [classifier.get_layer(f["layer"]).output for f in info])
    return dict(zip([f["key"] for f in info], map(to_numpy, _logits(taps, x)), strict=True))


def test_a_features_model_survives_a_keras_round_trip(tmp_path):
    backbone = models.get("resnet18", features_only=True, **_tiny_kwargs("resnet18"))
    assert backbone.name == "resnet18"  # the registered name, as the classifier's
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    backbone.save(tmp_path / "backbone.keras")
    restored = keras.saving.load_model(tmp_path / "backbone.keras")
    assert models.feature_info(restored) == models.feature_info(backbone)
    want, got = _logits(backbone, x), _logits(restored, x)
    assert list(got) == KEYS
    for key in KEYS:
        np.testing.assert_array_equal(to_numpy(got[key]), to_numpy(want[key]), err_msg=key)


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_features_only_takes_a_training_run_s_weights_files(tmp_path, suffix):
    """A run writes model.keras and model.weights.h5 of the classifier, head included."""
    kwargs = _tiny_kwargs("resnetrs50")
    classifier = models.get("resnetrs50", **kwargs)
    path = str(tmp_path / f"model{suffix}")
    classifier.save(path) if suffix == ".keras" else classifier.save_weights(path)
    backbone = models.get("resnetrs50", features_only=True, weights=path, **kwargs)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    want = _taps(classifier, models.feature_info(backbone), x)
    got = _logits(backbone, x)
    for key in KEYS:
        np.testing.assert_array_equal(to_numpy(got[key]), want[key], err_msg=key)
