"""Recipes against docs/REFERENCE.md §1.2 / 2.2 (every ResNet-RS row), 2.1 and 2.3."""

import math

import pytest

from official.configs import overrides, recipes
from official.training import optimizer

# docs/REFERENCE.md §1.2: name -> (depth, image, RandAugment magnitude, dropout, stochastic depth).
RESNET_RS_TABLE = {
    "resnetrs50_i160": (50, 160, 10, 0.25, 0.0),
    "resnetrs101_i160": (101, 160, 10, 0.25, 0.0),
    "resnetrs101_i192": (101, 192, 15, 0.25, 0.0),
    "resnetrs152_i192": (152, 192, 15, 0.25, 0.0),
    "resnetrs152_i224": (152, 224, 15, 0.25, 0.0),
    "resnetrs152_i256": (152, 256, 15, 0.25, 0.0),
    "resnetrs200_i256": (200, 256, 15, 0.25, 0.1),
    "resnetrs270_i256": (270, 256, 15, 0.25, 0.1),
    "resnetrs350_i256": (350, 256, 15, 0.25, 0.1),
    "resnetrs350_i320": (350, 320, 15, 0.4, 0.1),
    "resnetrs420_i320": (420, 320, 15, 0.4, 0.1),
}


@pytest.mark.parametrize("name,row", RESNET_RS_TABLE.items())
def test_resnet_rs_rows_match_spec(name, row):
    depth, image, magnitude, dropout, drop_path = row
    c = recipes.get(name)
    assert c.model.name == f"resnetrs{depth}"
    assert c.data.image_size == image and c.data.resolved_eval_image_size == image
    assert (c.data.augmentation, c.data.randaugment_layers) == ("randaugment", 2)
    assert c.data.randaugment_magnitude == magnitude
    assert c.model.kwargs == dict(
        dropout_rate=dropout, stochastic_depth_rate=drop_path, bn_momentum=0.0
    )
    o = c.optimizer
    assert (o.base_learning_rate, o.momentum, o.nesterov, o.warmup_epochs) == (0.1, 0.9, True, 5)
    assert (o.weight_decay, o.label_smoothing, o.ema_decay) == (4e-5, 0.1, 0.9999)
    assert c.data.train_batch_size == 4096 and c.train.epochs == 350
    assert c.train.total_steps(4096) == 109_475 == math.ceil(350 * 1_281_167 / 4096)


def test_resnet_rs_learning_rate_at_the_milestones():
    c = recipes.get("resnetrs50_i160")
    steps = c.train.total_steps(4096)
    per_epoch = c.train.steps_per_epoch(4096)
    schedule = optimizer.learning_rate_schedule(c.optimizer, 4096, per_epoch, steps)
    warmup = round(5 * 1_281_167 / 4096)  # 1564
    assert optimizer.peak_learning_rate(c.optimizer, 4096) == pytest.approx(1.6)
    assert float(schedule(0)) == pytest.approx(0.0)
    assert float(schedule(warmup // 2)) == pytest.approx(1.6 * (warmup // 2) / warmup, rel=1e-5)
    assert float(schedule(warmup)) == pytest.approx(1.6, rel=1e-6)
    middle = warmup + (steps - warmup) // 2
    assert float(schedule(middle)) == pytest.approx(0.8, rel=1e-3)  # half way down the cosine
    assert float(schedule(steps)) == pytest.approx(0.0, abs=1e-6)


def test_bag_of_tricks_and_nfnet_recipes():
    b = recipes.get("resnet50d_bag_of_tricks")
    assert b.model.name == "resnet50d" and b.train.epochs == 120
    assert (b.data.train_batch_size, b.optimizer.base_learning_rate) == (256, 0.1)
    assert (b.optimizer.weight_decay, b.optimizer.label_smoothing) == (1e-4, 0.1)
    assert b.data.augmentation == "bag_of_tricks" and b.optimizer.warmup_epochs == 5
    n = recipes.get("nfnet_f0")
    assert (n.data.image_size, n.data.resolved_eval_image_size) == (192, 256)
    assert (n.optimizer.weight_decay, n.optimizer.agc_clip, n.optimizer.ema_decay) == (
        2e-5,
        0.01,
        0.99999,
    )
    assert n.train.epochs == 360 and n.data.mixup_alpha > 0 and n.data.cutmix_alpha > 0


def test_unknown_recipe_suggests_close_names():
    with pytest.raises(ValueError, match=r"Unknown recipe 'resnetrs51_i160'.*resnetrs50_i160"):
        recipes.get("resnetrs51_i160")


# EfficientNet resolutions (docs/REFERENCE.md §1.7) and the RandAugment magnitude of ResNet-RS
# section 7.2.
EFFICIENTNET_SIZES = dict(b0=224, b1=240, b2=260, b3=300, b4=380, b5=456, b6=528, b7=600)


@pytest.mark.parametrize("variant,size", EFFICIENTNET_SIZES.items())
def test_efficientnet_recipes_follow_the_original_training(variant, size):
    c = recipes.get(f"efficientnet_{variant}")
    assert c.model.name == f"efficientnet_{variant}" and c.data.image_size == size
    assert c.data.randaugment_magnitude == (10 if size <= 224 else 20 if size > 320 else 15)
    o = c.optimizer
    assert (o.name, o.rmsprop_rho, o.momentum, o.epsilon) == ("rmsprop", 0.9, 0.9, 1e-3)
    assert (o.schedule, o.decay_rate, o.decay_epochs, o.warmup_epochs) == (
        "exponential",
        0.97,
        2.4,
        5,
    )
    assert (o.weight_decay, o.weight_decay_type, o.label_smoothing, o.ema_decay) == (
        1e-5,
        "l2",
        0.1,
        0.9999,
    )
    assert optimizer.peak_learning_rate(o, c.data.train_batch_size) == pytest.approx(0.256)
    assert c.train.epochs == 350


@pytest.mark.parametrize(
    "name,variant,size,magnitude",
    [
        ("efficientnet_rs_b0_i192", "b0", 192, 10),
        ("efficientnet_rs_b3_i224", "b3", 224, 10),
        ("efficientnet_rs_b4_i320", "b4", 320, 15),
        ("efficientnet_rs_b7_i416", "b7", 416, 20),
    ],
)
def test_efficientnet_rs_changes_only_resolution_and_magnitude(name, variant, size, magnitude):
    rs, original = recipes.get(name), recipes.get(f"efficientnet_{variant}")
    assert (rs.data.image_size, rs.data.randaugment_magnitude) == (size, magnitude)
    assert size < original.data.image_size
    rs.data.image_size = original.data.image_size
    rs.data.randaugment_magnitude = original.data.randaugment_magnitude
    assert rs == original  # same network (width, depth), optimizer and schedule


@pytest.mark.parametrize(
    "name,message",
    [
        ("efficientnet_rs_b4_i380", "below the original 380 of b4"),
        ("efficientnet_rs_b0_i256", "below the original 224 of b0"),
        ("efficientnet_rs_b9_i200", "EfficientNet variants are b0, b1"),
    ],
)
def test_efficientnet_rs_refuses_what_is_not_a_reduced_resolution(name, message):
    with pytest.raises(ValueError, match=message):
        recipes.get(name)
    assert "efficientnet_rs_b<0-7>_i<size>" in recipes.list_recipes()


def test_efficientnet_exponential_schedule_at_the_milestones():
    c = recipes.get("efficientnet_b0")
    per_epoch = c.train.steps_per_epoch(4096)
    steps = c.train.total_steps(4096)
    schedule = optimizer.learning_rate_schedule(c.optimizer, 4096, per_epoch, steps)
    warmup, every = round(5 * per_epoch), 2.4 * per_epoch  # 1564 and 750.7 steps
    assert float(schedule(0)) == 0.0
    assert float(schedule(warmup // 2)) == pytest.approx(0.256 * (warmup // 2) / warmup, 1e-5)
    # After the warmup the staircase counts from step 0: two decays have passed at 5 epochs.
    assert float(schedule(warmup)) == pytest.approx(0.256 * 0.97**2, rel=1e-5)
    assert float(schedule(int(3 * every) + 1)) == pytest.approx(0.256 * 0.97**3, rel=1e-5)
    assert float(schedule(steps)) == pytest.approx(0.256 * 0.97 ** math.floor(steps / every), 1e-4)


# TF Model Garden k400_resnet3drs_50_tpu.yaml and the list (docs/video.md).
K400 = dict(
    stem_temporal_kernel=5,
    stem_temporal_stride=2,
    se_ratio=0.25,
    stochastic_depth_rate=0.1,
    dropout_rate=0.5,
    bn_momentum=0.0,
    bn_epsilon=1e-5,
    activation="relu",
)


def test_kinetics_recipe_values_equal_the_official_file():
    c = recipes.get("resnetrs50_3d_k400")
    assert c.model.name == "resnetrs50_3d" and c.model.kwargs == K400
    d, v, o = c.data, c.video, c.optimizer
    assert (d.kind, d.num_classes, d.label_offset, d.augmentation) == ("video", 400, 0, "none")
    assert (v.num_frames, v.temporal_stride, v.min_image_size) == (32, 2, 256)
    assert (d.image_size, d.crop_area_min, v.aspect_ratio_min, v.aspect_ratio_max) == (
        224,
        0.08,
        0.5,
        2.0,
    )
    assert v.random_flip
    assert (v.num_test_clips, v.num_test_crops, d.resolved_eval_image_size) == (10, 3, 256)
    assert (d.train_batch_size, c.train.num_train_images) == (1024, 215_570)
    assert (o.name, o.momentum, o.nesterov, o.schedule) == ("sgd", 0.9, True, "cosine")
    assert (o.weight_decay, o.weight_decay_type, o.label_smoothing) == (4e-5, "l2", 0.1)
    assert o.ema_decay == 0.9999 and c.runtime.precision == "bfloat16"
    assert optimizer.peak_learning_rate(o, 1024) == pytest.approx(0.8)
    assert c.train.total_steps(1024) == 73_682 and c.train.eval_interval(1024) == 500
    assert round(o.warmup_epochs * c.train.steps_per_epoch(1024)) == 1_050


def test_kinetics_learning_rate_at_the_milestones():
    c = recipes.get("resnetrs50_3d_k400")
    steps, warmup = 73_682, 1_050
    schedule = optimizer.learning_rate_schedule(
        c.optimizer, 1024, c.train.steps_per_epoch(1024), c.train.total_steps(1024)
    )
    assert float(schedule(0)) == 0.0
    assert float(schedule(warmup // 2)) == pytest.approx(0.8 * 525 / 1050, rel=1e-5)
    assert float(schedule(warmup)) == pytest.approx(0.8, rel=1e-6)
    # Cosine from the end of the warmup: 0.4 * (1 + cos(pi * (step - 1050) / 72632)).
    for step in (warmup + (steps - warmup) // 2, 50_000):
        expected = 0.4 * (1 + math.cos(math.pi * (step - warmup) / (steps - warmup)))
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-4)
    assert float(schedule(steps - 1)) == pytest.approx(0.0, abs=1e-6)
    assert float(schedule(steps)) == 0.0


def test_sample_video_recipe_and_what_video_data_refuses():
    c = recipes.get("sample_video")
    assert (c.data.kind, c.data.num_classes, c.video.random_flip) == ("video", 8, False)
    assert c.video.num_test_views == 6 and c.model.name == "resnetrs50_3d"
    with pytest.raises(ValueError, match="data.augmentation='randaugment' is not available"):
        overrides.apply_overrides(c, {"data.augmentation": "randaugment"})
    with pytest.raises(ValueError, match="video.num_test_crops=2 is not known; use one of 1, 3"):
        overrides.apply_overrides(recipes.get("sample_video"), {"video.num_test_crops": 2})
    with pytest.raises(ValueError, match="data.kind='audio' is not known"):
        overrides.apply_overrides(recipes.get("sample"), {"data.kind": "audio"})


def test_tpu_recipes_feed_bfloat16_images():
    """docs/distributed.md, "Precision": half the infeed bytes of float32 images."""
    names = [n for n in recipes.list_recipes() if "<" not in n]
    tpu = [n for n in names if recipes.get(n).runtime.strategy == "tpu"]
    assert {"resnetrs50_i160", "nfnet_f0", "efficientnet_b0", "resnet_main"} <= set(tpu)
    assert all(recipes.get(n).data.dtype == "bfloat16" for n in tpu), tpu
    assert recipes.get("efficientnet_rs_b4_i320").data.dtype == "bfloat16"
    assert recipes.get("sample").data.dtype == "float32"


@pytest.mark.parametrize(
    "name", ["resnetrs50_i160", "resnetrs420_i320", "efficientnet_b3", "resnet_main"]
)
def test_published_recipes_use_the_official_data_ops(name):
    """docs/data_ops.md: tensorflow/tpu's RandAugment and preprocessing, eval padding 32."""
    data = recipes.get(name).data
    assert (data.randaugment_variant, data.preprocessing) == ("official_tpu", "official_tpu")
    assert data.eval_crop_padding == 32


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("randaugment_variant", "timm", "data.randaugment_variant='timm' is not known"),
        ("preprocessing", "tf1", "data.preprocessing='tf1' is not known; use one of"),
        (
            "randaugment_magnitude",
            -2.0,
            "data.randaugment_magnitude=-2.0 is out of range: it must be >= 0",
        ),
    ],
)
def test_bad_data_op_settings_are_one_line_errors(field, value, message):
    from official.configs import DataConfig

    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as error:
        DataConfig(**{field: value})
    assert "\n" not in str(error.value)


def test_every_recipe_is_built_afresh():
    """A recipe derived from a base shares no object with the next call: mutating one result
    (studies and overrides do) leaves the next get() as it was."""
    for name in [n for n in recipes.list_recipes() if "<" not in n] + ["efficientnet_rs_b4_i320"]:
        first, second = recipes.get(name), recipes.get(name)
        assert first == second
        first.model.kwargs["poison"] = 1
        for value in first.model.kwargs.values():
            if isinstance(value, list):
                value.append(99)
        first.data.image_size += 1
        assert recipes.get(name) == second, name


def test_derive_checks_what_it_changes_and_leaves_the_base_alone():
    base = recipes.get("sample")
    derived = recipes.derive(base, data=dict(image_size=64), optimizer=dict(ema_decay=0.0))
    assert (derived.data.image_size, derived.optimizer.ema_decay) == (64, 0.0)
    assert (base.data.image_size, base.optimizer.ema_decay) == (32, 0.99)
    assert derived.train == base.train and derived.data.num_classes == base.data.num_classes
    with pytest.raises(ValueError, match="data.augmentation='bogus' is not known"):
        recipes.derive(base, data=dict(augmentation="bogus"))


def test_the_video_sample_trains_like_the_image_sample():
    """The same schedule, EMA, run length and CPU; the training split is four fifths of
    scikit-learn's 1,797 digits (docs/REFERENCE.md; every fifth goes to validation)."""
    image, video = recipes.get("sample"), recipes.get("sample_video")
    assert video.optimizer == image.optimizer and video.train == image.train
    assert video.runtime == image.runtime
    assert image.train.num_train_images == 1797 - math.ceil(1797 / 5)
