"""timm -> ours: timm's exact state-dict layouts (keys and shapes from timm 1.0.31, random
values) convert with every tensor used once, each landing where timm's module name says; wrong,
missing and extra tensors fail with one line."""

import numpy as np
import pytest

from official import models
from official.models.counting import shapes_only
from official.weights import ConversionError, strict, timm, timm_names
from tests.weights.conftest import random_state_dict, write_safetensors
from tests.weights.conftest import timm_names as fixture_names

PAIRS = [(ours, t) for ours, pairs in timm_names.TIMM_NAMES.items() for t, _ in pairs]
# resnet18 goes the whole way (a .safetensors file through weights=); every other supported name
# is matched on a model built without initializing its variables (strict.match: every check of
# the fill, nothing assigned), which takes a fraction of the time (all of them: ~80 s on 2 cores).
# The development subset (-m "not slow") keeps one network of each layout the mappings handle;
# the deeper and wider repeats of those layouts run in CI.
END_TO_END = "resnet18"  # basic blocks, 7x7 stem, max pool
DEVELOPMENT_SUBSET = {
    "resnet50_gn": "bottlenecks, GroupNorm (no running statistics)",
    "resnetrs50": "deep stem, stem conv in place of the pool, avg-pool shortcut, SE",
    "resnest14d": "split attention (grouped convs)",
    "tf_efficientnet_b0": "MBConv + SE, separable first block",
    "semnasnet_100": "MBConv, SE on some stages only",
    "dm_nfnet_f0": "scaled WS convs, SkipInit gains",
}
OURS = {t: ours for ours, t in PAIRS}


def test_the_fixture_has_every_supported_timm_name():
    assert sorted(fixture_names()) == sorted(t for _, t in PAIRS)
    assert END_TO_END in OURS and all(name in OURS for name in DEVELOPMENT_SUBSET)


def _expected_placements(weights, tensors):
    """A few tensors, located by timm's own names, against our variables (layout by hand);
    weights: {our variable path: value}."""
    checks = []
    for key, value in tensors.items():
        if key in ("conv1.weight", "conv1.0.weight", "conv_stem.weight"):
            checks.append((weights["stem_conv1/kernel"], value.transpose(2, 3, 1, 0)))
        if key == "stem.conv1.weight":  # NFNet: timm counts its stem convs from 1, we from 0
            checks.append((weights["stem_conv0/kernel"], value.transpose(2, 3, 1, 0)))
        if key in ("fc.weight", "classifier.weight", "head.fc.weight"):
            checks.append((weights["classifier/kernel"], value.T))
        if key.endswith("layer1.0.bn1.running_var"):
            checks.append((weights["stage2_block1_bn1/moving_variance"], value))
        if key == "layer2.0.downsample.2.running_mean":  # ResNet-D: after the pool and conv
            checks.append((weights["stage3_block1_shortcut_bn/moving_mean"], value))
        if key == "layer1.0.se.fc1.weight":
            checks.append((weights["stage2_block1_se/reduce/kernel"], value[:, :, 0, 0].T))
        if key == "blocks.1.0.conv_dw.weight":
            checks.append((weights["stage2_block1_dwconv/kernel"], value.transpose(2, 3, 0, 1)))
        if key == "stages.0.0.conv1.gain":
            checks.append((weights["stage2_block1_conv0/gain"], value.reshape(-1)))
        if key == "stages.0.0.skipinit_gain":
            checks.append((weights["stage2_block1_skip_gain/gain"], value))
    return checks


def test_timm_file_converts_through_weights_with_every_tensor_used_once(tmp_path):
    tensors = random_state_dict(END_TO_END)
    path = write_safetensors(tmp_path, END_TO_END, tensors)
    model = models.get(OURS[END_TO_END], weights=path)  # strict: raises on any misfit
    counters = [k for k in tensors if k.endswith("num_batches_tracked")]
    assert len(model.weights) == len(tensors) - len(counters)
    checks = _expected_placements({w.path: np.asarray(w) for w in model.weights}, tensors)
    assert len(checks) >= 3
    for got, expected in checks:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "timm_name",
    [
        n if n in DEVELOPMENT_SUBSET else pytest.param(n, marks=pytest.mark.slow)
        for _, n in PAIRS
        if n != END_TO_END
    ],
)
def test_timm_layout_matches_every_tensor_once(timm_name):
    """Every variable gets one tensor, every tensor (but BN counters) is used once, shapes
    agree after the layout change, and the tensors land where timm's names say."""
    ours = OURS[timm_name]
    tensors = random_state_dict(timm_name)
    conventions = dict(timm_names.TIMM_NAMES[ours])[timm_name]
    with shapes_only():
        model = models.get(ours, **conventions)
    family = timm_names.TIMM_MAPPING[models.entry(ours).family]
    values = strict.match(
        model, tensors, timm.plan(model, family), source=timm_name, ignored=timm.ignored(tensors)
    )
    counters = [k for k in tensors if k.endswith("num_batches_tracked")]
    assert len(values) == len(tensors) - len(counters) == len(model.weights)
    checks = _expected_placements(values, tensors)
    assert len(checks) >= 2
    for got, expected in checks:
        np.testing.assert_array_equal(got, expected)


@pytest.fixture(scope="module")
def resnet18_tensors():
    return random_state_dict("resnet18")


def _convert(tmp_path, tensors, name="resnet18"):
    return models.get("resnet18", weights=write_safetensors(tmp_path, name, tensors))


def test_a_wrong_shape_is_one_line_naming_the_tensor_and_the_variable(resnet18_tensors, tmp_path):
    tensors = dict(resnet18_tensors, **{"layer2.0.conv1.weight": np.zeros((128, 64, 5, 5))})
    with pytest.raises(ConversionError) as error:
        _convert(tmp_path, tensors)
    message = str(error.value)
    assert "\n" not in message
    assert "'layer2.0.conv1.weight' (128, 64, 5, 5)" in message
    assert "'stage3_block1_conv1/kernel'" in message and "(3, 3, 64, 128)" in message


def test_a_missing_and_an_extra_tensor_name_the_first_unmatched_on_each_side(
    resnet18_tensors, tmp_path
):
    tensors = dict(resnet18_tensors)
    tensors["layer3.0.bn2.running_mean_renamed"] = tensors.pop("layer3.0.bn2.running_mean")
    with pytest.raises(ConversionError) as error:
        _convert(tmp_path, tensors)
    message = str(error.value)
    assert "\n" not in message
    assert "first 'stage4_block1_bn2/moving_mean' (needs 'layer3.0.bn2.running_mean'" in message
    assert "first 'layer3.0.bn2.running_mean_renamed'" in message


def test_a_tensor_left_over_is_an_error_and_nothing_is_assigned(resnet18_tensors, tmp_path):
    tensors = dict(resnet18_tensors, **{"extra.weight": np.ones(3, np.float32)})
    model = models.get("resnet18")
    before = [np.asarray(w) for w in model.weights]
    with pytest.raises(ConversionError, match="1 source tensor.s. unused, first 'extra.weight'"):
        plan = timm.plan(model, "resnet")
        strict.fill(model, tensors, plan, source="x", ignored=timm.ignored(tensors))
    for old, new in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(old, np.asarray(new))


def test_include_top_false_leaves_timm_classifier_unused(resnet18_tensors, tmp_path):
    model = models.get(
        "resnet18",
        include_top=False,
        weights=write_safetensors(tmp_path, "resnet18", resnet18_tensors),
    )
    assert "classifier/kernel" not in {w.path for w in model.weights}


def test_docs_carry_the_current_name_table():
    """docs/weights.md holds the table (README.md links to it)."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    table = timm_names.markdown_table()
    assert table in (root / "docs" / "weights.md").read_text()
