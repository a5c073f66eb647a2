"""The fine-tuning controls through the Trainer (docs/training.md, "Fine-tuning controls"):
train.freeze on 2 replicas under XLA (frozen weights and BN statistics bit-identical, the rest
moving), train.remat's gradients against the plain step's there, the head-only phase, fixed BN
statistics, and the one-line refusals."""

import numpy as np
import pytest
import tensorflow as tf

from official.configs.config import TrainConfig
from official.configs.validation import ConfigError
from official.models import freezing
from official.training import finetune, loop
from official.training.runtime import get_strategy
from tests.models.test_registry import _tiny
from tests.training.test_loop import sample_config

BATCH = 32  # global; 16 per replica on the 2 logical CPUs


def _trainer(data_dir, tmp_path, strategy, model_kwargs=None, **extra):
    extra = {"optimizer.warmup_epochs": 0.0, "optimizer.ema_decay": 0.0, **extra}
    config = sample_config(data_dir, **extra)
    config.model.kwargs |= model_kwargs or {}
    return loop.Trainer(config, strategy, str(tmp_path))


def _batches(strategy, seed=(1, 2)):
    images = tf.random.stateless_uniform((BATCH, 32, 32, 3), seed=seed)
    labels = tf.range(BATCH) % 10
    data = tf.data.Dataset.from_tensors((images, labels)).repeat()
    return (
        images[: BATCH // 2],
        labels[: BATCH // 2],
        strategy.experimental_distribute_dataset(data),
    )


def _replica_values(strategy, variable):
    return [np.asarray(p) for p in strategy.experimental_local_results(variable.value)]


def _gradients(trainer, images, labels):
    """Each replica's gradients of one forward and backward pass on (images, labels)."""
    step = tf.function(lambda: trainer.strategy.run(trainer._gradients, args=(images, labels)))
    _, grads, _, _ = step()
    return [[np.asarray(g) for g in trainer.strategy.experimental_local_results(x)] for x in grads]


@pytest.mark.slow  # about 30 s: two replicas, XLA, three steps
@pytest.mark.tensorflow_only
def test_frozen_stages_stay_bit_identical_on_two_replicas_under_xla_and_remat_matches(
    sample_dir, tmp_path
):
    strategy = get_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    # Stochastic depth inside the stages: the backward pass must draw its masks again.
    kwargs = {"stochastic_depth_rate": 0.5}
    settings = {"runtime.xla": True, "train.freeze": "stage3", "model_kwargs": kwargs}
    plain = _trainer(sample_dir, tmp_path / "plain", strategy, **settings)
    trainer = _trainer(
        sample_dir, tmp_path / "remat", strategy, **settings, **{"train.remat": "stages"}
    )
    images, labels, batches = _batches(strategy)

    # Gradient checkpointing: the same gradients (dropout masks included) and BN statistics
    # updated once, on each replica.
    for want, got in zip(
        _gradients(plain, images, labels), _gradients(trainer, images, labels), strict=True
    ):
        for a, b in zip(want, got, strict=True):
            assert np.linalg.norm(a - b) <= 1e-5 * np.linalg.norm(a)
    for a, b in zip(
        plain.model.non_trainable_weights, trainer.model.non_trainable_weights, strict=True
    ):
        for x, y in zip(_replica_values(strategy, a), _replica_values(strategy, b), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7, err_msg=a.path)

    frozen = {w.path: np.asarray(w) for w in freezing.frozen_weights(trainer.model)}
    assert "stage3_block1_conv1/kernel" in frozen and "stage2_block1_bn1/moving_mean" in frozen
    assert not any(p.startswith(("stage4_", "stage5_", "classifier")) for p in frozen)
    before = {w.path: np.asarray(w) for w in trainer.model.weights}
    assert trainer.train_loop(iter(batches), 3).steps == 3
    for weight in trainer.model.weights:
        for value in _replica_values(strategy, weight):
            if weight.path in frozen:
                np.testing.assert_array_equal(value, frozen[weight.path], weight.path)
    after = {w.path: np.asarray(w) for w in trainer.model.weights}
    for path in (
        "stage4_block1_conv1/kernel",
        "stage5_block1_bn1/moving_mean",
        "classifier/kernel",
    ):
        assert not np.array_equal(after[path], before[path]), path


@pytest.mark.tensorflow_only
def test_the_head_trains_alone_first_then_everything_with_bn_statistics_fixed(sample_dir, tmp_path):
    strategy = get_strategy("cpu")
    # One step per epoch: head_only_epochs 2 is 2 steps.
    extra = {"train.num_train_images": BATCH, "train.epochs": 10, "train.head_only_epochs": 2.0}
    trainer = _trainer(
        sample_dir, tmp_path, strategy, **extra, **{"train.frozen_bn_statistics": True}
    )
    assert trainer.head_only_steps == 2
    _, _, batches = _batches(strategy)
    iterator = iter(batches)

    def weights():
        return {w.path: np.asarray(w) for w in trainer.model.weights}

    start = weights()
    assert trainer.train_loop(iterator, 5).steps == 2  # stops where the phase ends
    head_only = weights()
    moved = {p for p in start if not np.array_equal(start[p], head_only[p])}
    assert moved == {"classifier/kernel", "classifier/bias"}
    first_phase = trainer._train_loop

    trainer.train_loop(iterator, 2)
    trainer.train_loop(iterator, 2)
    after = weights()
    assert trainer._train_loop is not first_phase  # traced again once, for the new phase
    assert trainer._train_loop.experimental_get_tracing_count() == 1
    assert not np.array_equal(after["stem_conv1/kernel"], head_only["stem_conv1/kernel"])
    assert not np.array_equal(after["stem_bn1/gamma"], head_only["stem_bn1/gamma"])
    for path in start:
        if "moving_" in path:  # train.frozen_bn_statistics: inference mode throughout
            np.testing.assert_array_equal(after[path], start[path], path)


def test_bad_values_are_refused_in_one_line():
    model = _tiny("resnet18")
    train = TrainConfig(freeze="stage9")
    with pytest.raises(
        ValueError, match=r"^train.freeze='stage9': resnet18 has stages 2, 3, 4, 5, no stage 9\.$"
    ):
        finetune.apply_freezing(model, train)
    with pytest.raises(ConfigError, match=r"^train.freeze='layer3' is not a part"):
        TrainConfig(freeze="layer3")
    with pytest.raises(ConfigError, match=r"^train.remat='blocks' is not known"):
        TrainConfig(remat="blocks")
    with pytest.raises(ConfigError, match=r"^train.head_only_epochs=-1.0 is out of range"):
        TrainConfig(head_only_epochs=-1.0)
