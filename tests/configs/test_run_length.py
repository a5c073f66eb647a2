"""train.epochs / train.train_steps (and the evaluation interval) as pairs of which exactly one
is set (docs/tpu.md, "Run length")."""

import math

import numpy as np
import pytest

from official.configs import overrides, recipes
from official.configs.config import TrainConfig
from official.training import optimizer


def test_exactly_one_of_epochs_and_train_steps():
    with pytest.raises(ValueError, match=r"train.epochs=None and train.train_steps=None: set"):
        TrainConfig(epochs=None)
    with pytest.raises(ValueError, match=r"train.epochs=3 and train.train_steps=7: set exactly"):
        TrainConfig(epochs=3, train_steps=7)
    with pytest.raises(ValueError, match=r"train.eval_every_epochs=1.0 and train.eval_every_st"):
        TrainConfig(eval_every_epochs=1.0, eval_every_steps=5)


def test_setting_one_clears_the_other_and_both_is_an_error():
    config = recipes.get("resnetrs50_i160")
    overrides.apply_overrides(config, {"train": {"train_steps": 1000}})
    assert (config.train.epochs, config.train.total_steps(4096)) == (None, 1000)
    overrides.apply_overrides(config, {"train.epochs": 2})
    assert config.train.train_steps is None
    assert config.train.total_steps(4096) == math.ceil(2 * 1_281_167 / 4096)
    with pytest.raises(ValueError, match=r"train.epochs=1.0 and train.train_steps=5"):
        overrides.apply_overrides(config, {"train.epochs": 1, "train.train_steps": 5})
    overrides.apply_overrides(config, {"train.eval_every_steps": 250})
    assert (config.train.eval_every_epochs, config.train.eval_interval(4096)) == (None, 250)


def test_params_yaml_round_trip_keeps_the_pair(tmp_path):
    config = recipes.get("resnet_main")
    path = str(tmp_path / "params.yaml")
    overrides.save_yaml(config, path)
    loaded = overrides.load_config(path)
    assert (loaded.train.epochs, loaded.train.train_steps) == (None, 112_590)
    assert (loaded.train.eval_every_epochs, loaded.train.eval_every_steps) == (None, 1251)


def test_schedule_follows_the_step_count():
    """Warmup over warmup_epochs epochs of images, then a cosine that reaches 0 at N, whether N
    comes from train_steps or from epochs (NumPy reference of the formula in docs/tpu.md)."""
    config = recipes.get("resnet_main")  # 5 warmup epochs, batch 1024
    batch, spe = 1024, 1_281_167 / 1024
    n, warm = 20_000, round(5 * spe)
    overrides.apply_overrides(config, {"train.train_steps": n})
    schedule = optimizer.learning_rate_schedule(
        config.optimizer, batch, spe, config.train.total_steps(batch)
    )
    peak = 0.1 * batch / 256
    steps = np.array([0, warm // 2, warm, (warm + n) // 2, n - 1, n])
    expected = np.where(
        steps < warm,
        peak * steps / warm,
        peak * 0.5 * (1 + np.cos(np.pi * (steps - warm) / (n - warm))),
    )
    got = np.array([float(schedule(int(s))) for s in steps])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert got[-1] == pytest.approx(0.0, abs=1e-7)
