"""Recipes against SPEC 1.2 / 2.2 (every ResNet-RS row), 2.1 and 2.3."""

import math

import pytest

from official.configs import recipes
from official.training import optimizer

# SPEC 1.2: name -> (depth, image, RandAugment magnitude, dropout, stochastic depth).
SPEC_RS = {
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


@pytest.mark.parametrize("name,row", SPEC_RS.items())
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
    assert c.train.train_steps(4096) == 109_475 == math.ceil(350 * 1_281_167 / 4096)


def test_resnet_rs_learning_rate_at_the_milestones():
    c = recipes.get("resnetrs50_i160")
    steps = c.train.train_steps(4096)
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
