"""The ResNet family against docs/REFERENCE.md §1.1-1.3, 1.5 and 1.8."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official import models
from official.layers import StandardizedConv2D
from official.models.resnet import BLOCKS, blocks_for_depth, resnet
from official.training.runtime import get_strategy

TINY = dict(width_multiplier=0.25, num_classes=10)

# docs/REFERENCE.md §1.8: published parameter counts (1000 classes, weights only).
REFERENCE_PARAMETERS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnet50d": 25_576_264,
    "seresnet50": 28_088_024,
    "resnext50_32x4d": 25_028_904,
    "resnetrs50": 35_691_912,
    "resnetrs101": 63_618_696,
    "resnetrs152": 86_621_576,
    "resnet50_gn": 25_557_032,
}


@pytest.mark.slow
@pytest.mark.parametrize("name,expected", REFERENCE_PARAMETERS.items())
def test_parameter_counts_match_spec(name, expected):
    assert models.parameter_count(name) == expected


def test_group_norm_replaces_every_batch_norm_and_keeps_the_count():
    narrow = dict(width_multiplier=0.25, block_repeats=(1, 1, 1, 1))
    model = models.get("resnet50", norm="group", **narrow)
    kinds = {type(layer) for layer in model.layers}
    assert keras.layers.BatchNormalization not in kinds
    assert keras.layers.GroupNormalization in kinds
    assert models.count_parameters(model) == models.count_parameters(
        models.get("resnet50", **narrow)
    )


@pytest.mark.parametrize(
    "shape", [(32, 32), (160, 160), (192, 192), (256, 256), (96, 160), (75, 50)]
)
def test_logits_shape_at_any_input_size(shape):
    model = resnet(26, **TINY)
    x = np.zeros((2, *shape, 3), "float32")
    assert model(x).shape == (2, 10)


@pytest.mark.parametrize(
    "size,expected_side", [(224, 7), (160, 5), (192, 6), (256, 8), (225, 8), (33, 2)]
)
def test_features_are_stride_32(size, expected_side):
    model = resnet(26, include_top=False, **TINY)
    assert model(np.zeros((1, size, size, 3), "float32")).shape == (1, *(expected_side,) * 2, 512)


def test_include_top_false_pooling_and_stage_features():
    model = resnet(26, include_top=False, pooling="avg", **TINY)
    assert model(np.zeros((1, 64, 64, 3), "float32")).shape == (1, 512)
    assert resnet(18, include_top=False, pooling="max", **TINY).output.shape == (None, 128)
    names = {f["key"]: f["layer"] for f in models.feature_info(model)}  # features.py's rule
    assert names == {"P1": "stem_relu1", **{f"P{s}": f"stage{s}_block2_out" for s in (2, 3, 4, 5)}}
    stage_outputs = [model.get_layer(names[f"P{s}"]).output for s in (2, 3, 4, 5)]
    features = keras.Model(model.input, stage_outputs)
    outs = features(np.zeros((1, 64, 64, 3), "float32"))
    assert [tuple(o.shape) for o in outs] == [
        (1, 16, 16, 64),
        (1, 8, 8, 128),
        (1, 4, 4, 256),
        (1, 2, 2, 512),
    ]


def test_block_tables_and_derived_depths():
    assert blocks_for_depth(350) == BLOCKS[350] == (4, 36, 72, 4)
    assert blocks_for_depth(200) == (3, 24, 36, 3)
    # Derived as documented; the rule reproduces the published 350 and 420 tables.
    for depth in (350, 420):
        n = round((depth - 2) / 3)
        middle = n - 8
        assert (4, round(middle / 3), middle - round(middle / 3), 4) == BLOCKS[depth]
    assert blocks_for_depth(300) == (4, 30, 61, 4)
    assert blocks_for_depth(400) == (4, 42, 83, 4)
    assert sum(blocks_for_depth(300)) * 3 + 2 == 299
    with pytest.raises(ValueError, match="depth=8 is too shallow"):
        blocks_for_depth(8)


def _layer(model, name):
    return model.get_layer(name)


def test_stride_placement_v1_versus_b():
    v1 = resnet(50, stride_in_1x1=True, **TINY)
    b = resnet(50, **TINY)
    assert _layer(v1, "stage3_block1_conv1").strides == (2, 2)
    assert _layer(v1, "stage3_block1_conv2").strides == (1, 1)
    assert _layer(b, "stage3_block1_conv1").strides == (1, 1)
    assert _layer(b, "stage3_block1_conv2").strides == (2, 2)
    assert models.count_parameters(v1) == models.count_parameters(b)


def test_resnet_c_stem_and_d_shortcut():
    d = resnet(50, stem="deep", avg_down=True, block_repeats=(1, 1, 1, 1))
    assert [_layer(d, f"stem_conv{i}").filters for i in (1, 2, 3)] == [32, 32, 64]
    assert [_layer(d, f"stem_conv{i}").kernel_size for i in (1, 2, 3)] == [(3, 3)] * 3
    assert isinstance(_layer(d, "stage3_block1_shortcut_pool"), keras.layers.AveragePooling2D)
    assert _layer(d, "stage3_block1_shortcut_conv").strides == (1, 1)
    # Stride-1 projections (first block of stage 2) stay a plain 1x1 conv.
    names = {layer.name for layer in d.layers}
    assert "stage2_block1_shortcut_pool" not in names and "stage2_block1_shortcut_conv" in names


def test_resnet_rs_structure():
    model = models.get("resnetrs50", stochastic_depth_rate=0.2, block_repeats=(1, 1, 1, 1))
    assert _layer(model, "stem_conv4").strides == (2, 2)  # the 3x3/2 conv replacing the max pool
    assert "stem_pool" not in {layer.name for layer in model.layers}
    se = _layer(model, "stage2_block1_se")
    assert se.reduced_filters == 64  # 0.25 * 256
    assert _layer(model, "top_dropout").rate == 0.25
    # Stage i in 2..5 drops with rate * i / 5.
    rates = [_layer(model, f"stage{s}_block1_drop").rate for s in (2, 3, 4, 5)]
    np.testing.assert_allclose(rates, [0.2 * s / 5 for s in (2, 3, 4, 5)])


def test_resnext_grouped_inner_width():
    model = models.get("resnext101_32x8d", block_repeats=(1, 1, 1, 1))
    conv2 = _layer(model, "stage2_block1_conv2")
    assert (conv2.groups, conv2.filters) == (32, 256)  # floor(64 * 8 / 64) * 32
    assert _layer(model, "stage5_block1_conv2").filters == 2048


def test_width_multiplier_scales_every_conv_stem_included():
    model = models.get("resnetrs50", width_multiplier=0.5)
    assert _layer(model, "stem_conv1").filters == 16
    assert _layer(model, "stage5_block3_conv3").filters == 1024


def test_weight_standardization_uses_standardized_kernels():
    ws = resnet(26, weight_standardization=True, norm="group", include_top=False, **TINY)
    plain = resnet(26, norm="group", include_top=False, **TINY)
    convs = [layer for layer in ws.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(isinstance(layer, StandardizedConv2D) for layer in convs)
    # The plain model, given kernels standardized in NumPy, computes the same function.
    for layer in convs:
        k = to_numpy(layer.kernel)
        mean, var = k.mean(axis=(0, 1, 2), keepdims=True), k.var(axis=(0, 1, 2), keepdims=True)
        plain.get_layer(layer.name).kernel.assign((k - mean) / np.sqrt(var + 1e-5))
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(ws(x)), to_numpy(plain(x)), atol=1e-4)


@pytest.mark.parametrize(
    "variant,last_norm",
    [
        (dict(), "bn3"),
        (dict(se_ratio=0.25, stochastic_depth_rate=0.5), "bn3"),
        (dict(block="basic"), "bn2"),
    ],
)
def test_zero_gamma_makes_fresh_blocks_identity(variant, last_norm):
    model = resnet(26, include_top=False, **TINY, **variant)
    names = ["stage2_block1_out", f"stage2_block2_{last_norm}", "stage2_block2_out"]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    block_in, branch, block_out = (to_numpy(t) for t in probe(x))
    assert np.all(branch == 0.0)
    # Identity shortcut + zero branch + ReLU of a non-negative input: out == in.
    np.testing.assert_array_equal(block_out, block_in)


def test_stochastic_depth_model_is_deterministic_at_inference_and_random_in_training():
    model = resnet(26, stochastic_depth_rate=0.5, **TINY)
    # Give the last norms non-zero gamma so that dropping a branch changes the output.
    for layer in model.layers:
        if layer.name.endswith("_bn3"):
            layer.gamma.assign(np.ones(layer.gamma.shape))
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(to_numpy(model(x)), to_numpy(model(x)))
    a, b = to_numpy(model(x, training=True)), to_numpy(model(x, training=True))
    assert not np.allclose(a, b)


@pytest.mark.usefixtures("mixed_bfloat16")
def test_mixed_bfloat16_forward_gives_float32_logits():
    model = models.get("resnetrs50", width_multiplier=0.25, num_classes=10)
    logits = model(np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype("float32"))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert model.get_layer("stage3_block1_conv2").compute_dtype == "bfloat16"
    assert np.all(np.isfinite(to_numpy(logits)))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="keras.applications weights exist for resnet50"):
        models.get("resnet18", weights="imagenet")
    with pytest.raises(ValueError, match="stem='wide'"):
        resnet(18, stem="wide")
    with pytest.raises(ValueError, match="pooling='sum'"):
        resnet(18, include_top=False, pooling="sum")
    with pytest.raises(ValueError, match="norm='layer'"):
        resnet(18, norm="layer")


@pytest.mark.slow
@pytest.mark.tensorflow_only
def test_trains_under_mirrored_strategy_on_two_cpus():
    strategy = get_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(16, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=(16,))
    with strategy.scope():
        model = models.get("resnet26", **TINY)
        model.compile(
            optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    before = model.evaluate(x, y, batch_size=16, verbose=0)
    model.fit(x, y, batch_size=16, epochs=8, verbose=0, shuffle=False)
    after = model.evaluate(x, y, batch_size=16, verbose=0)
    assert np.isfinite(after) and after < 0.8 * before
