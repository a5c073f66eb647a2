"""timm -> ours: every supported timm name's exact state-dict layout (keys and shapes from
timm 1.0.31, random values) converts with every tensor used once, each landing where timm's
module name says; wrong, missing and extra tensors fail with one line."""

import keras
import numpy as np
import pytest

from official import models
from official.weights import ConversionError, strict, timm, timm_names
from tests.weights.conftest import random_state_dict, timm_layout, write_safetensors
from tests.weights.conftest import timm_names as fixture_names

PAIRS = [(ours, t) for ours, pairs in timm_names.TIMM_NAMES.items() for t, _ in pairs]
# One network of each layout converts by default; the other names (deeper or wider repeats of
# the same layouts, up to 438M parameters) are matched without values, as a slow test.
DEFAULT = {
    "resnet18",  # basic blocks, 7x7 stem, max pool
    "resnet50_gn",  # bottlenecks, GroupNorm (no running statistics)
    "resnetrs50",  # deep stem, stem conv in place of the pool, average-pool shortcut, SE
    "resnest14d",  # split attention (grouped convs)
    "tf_efficientnet_b0",  # MBConv + SE, separable first block
    "semnasnet_100",  # MBConv, SE on some stages only
    "dm_nfnet_f0",  # scaled WS convs, SkipInit gains
}


def test_the_fixture_has_every_supported_timm_name():
    assert sorted(fixture_names()) == sorted(t for _, t in PAIRS)


def _expected_placements(model, tensors):
    """A few tensors, located by timm's own names, against our variables (layout by hand)."""
    weights = {w.path: np.asarray(w) for w in model.weights}
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
        if key == "blocks.1.0.conv_dw.weight":
            checks.append((weights["stage2_block1_dwconv/kernel"], value.transpose(2, 3, 0, 1)))
        if key == "stages.0.0.conv1.gain":
            checks.append((weights["stage2_block1_conv0/gain"], value.reshape(-1)))
        if key == "stages.0.0.skipinit_gain":
            checks.append((weights["stage2_block1_skip_gain/gain"], value))
    return checks


@pytest.mark.parametrize("ours,timm_name", [(o, t) for o, t in PAIRS if t in DEFAULT], ids=str)
def test_timm_layout_converts_with_every_tensor_used_once(ours, timm_name, tmp_path):
    tensors = random_state_dict(timm_name)
    path = write_safetensors(tmp_path, timm_name, tensors)
    model = models.get(ours, weights=path)  # strict: raises on any unmatched tensor
    counters = [k for k in tensors if k.endswith("num_batches_tracked")]
    assert len(model.weights) == len(tensors) - len(counters)
    checks = _expected_placements(model, tensors)
    assert len(checks) >= 2
    for got, expected in checks:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.slow
@pytest.mark.parametrize("ours,timm_name", [(o, t) for o, t in PAIRS if t not in DEFAULT], ids=str)
def test_every_other_timm_layout_matches_every_tensor_once(ours, timm_name):
    """The same strict matching for the other 47 names, without values: the source tensors are
    broadcast zeros and the model is built without initializing its variables (up to 438M
    parameters each)."""
    layout = timm_layout(timm_name)
    tensors = {key: np.broadcast_to(np.float32(0), shape) for key, shape in layout}
    conventions = dict(timm_names.TIMM_NAMES[ours])[timm_name]
    with keras.StatelessScope(initialize_variables=False):
        model = models.get(ours, **conventions)
    family = timm_names.TIMM_MAPPING[models.entry(ours).family]
    values = strict.match(
        model, tensors, timm.plan(model, family), source=timm_name, ignored=timm.ignored(tensors)
    )
    counters = [k for k in tensors if k.endswith("num_batches_tracked")]
    assert len(values) == len(layout) - len(counters) == len(model.weights)


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


def test_readme_and_docs_carry_the_current_name_table():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    table = timm_names.markdown_table()
    assert table in (root / "README.md").read_text()
    assert table in (root / "docs" / "weights.md").read_text()
