import keras
import numpy as np
import pytest

from official import models
from official.configs.config import OptimizerConfig
from official.training import optimizer


def _model():
    return models.get(
        "resnetrs50",
        width_multiplier=0.25,
        block_repeats=(1, 1, 1, 1),
        num_classes=4,
        input_shape=(32, 32, 3),
    )


def test_weight_decay_touches_exactly_conv_and_dense_kernels():
    model = _model()
    decayed = {v.path for v in optimizer.decayed_variables(model)}
    expected = {v.path for v in model.trainable_variables if v.path.endswith("/kernel")}
    assert decayed == expected
    assert "classifier/kernel" in decayed and "stage2_block1_se/reduce/kernel" in decayed
    assert "stem_conv1/kernel" in decayed and "stage3_block1_shortcut_conv/kernel" in decayed
    assert not any(p.endswith(("gamma", "beta", "bias")) for p in decayed)

    # With zero gradients, one step shrinks exactly the kernels, by lr * wd.
    config = OptimizerConfig(weight_decay=0.1, momentum=0.0)
    opt = optimizer.build_optimizer(config, model, schedule=0.5)
    before = {v.path: np.asarray(v).copy() for v in model.trainable_variables}
    opt.apply_gradients([(np.zeros(v.shape, "float32"), v) for v in model.trainable_variables])
    for v in model.trainable_variables:
        factor = 1 - 0.5 * 0.1 if v.path in decayed else 1.0
        np.testing.assert_allclose(np.asarray(v), before[v.path] * factor, rtol=1e-6)


def test_schedule_without_warmup_starts_at_the_peak():
    config = OptimizerConfig(base_learning_rate=0.2, warmup_epochs=0)
    schedule = optimizer.learning_rate_schedule(config, 512, 10, 100)
    assert float(schedule(0)) == np.float32(0.4)
    assert float(schedule(100)) < 1e-6


def test_rmsprop_with_l2_weight_decay_leaves_decay_to_the_loss():
    model = _model()
    config = OptimizerConfig(name="rmsprop", weight_decay=1e-5, weight_decay_type="l2")
    opt = optimizer.build_optimizer(config, model, schedule=0.1)
    assert isinstance(opt, keras.optimizers.RMSprop) and not opt.weight_decay
    assert (opt.rho, opt.momentum, opt.epsilon) == (0.9, 0.9, 1e-3)
    kernels = optimizer.decayed_variables(model)
    expected = 1e-5 * sum(float(np.sum(np.square(np.asarray(k)))) / 2 for k in kernels)
    assert float(optimizer.l2_penalty(kernels, 1e-5)) == pytest.approx(expected, rel=1e-5)


def test_exponential_schedule_round_trips_through_keras_serialization():
    config = OptimizerConfig(schedule="exponential", base_learning_rate=0.016, warmup_epochs=1)
    schedule = optimizer.learning_rate_schedule(config, 256, 10, 100)
    assert isinstance(schedule, optimizer.LinearWarmup)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    for step in (0, 5, 10, 24, 25, 99):
        assert float(again(step)) == pytest.approx(float(schedule(step)))
    assert float(schedule(5)) == pytest.approx(0.008) and float(schedule(25)) == pytest.approx(
        0.016 * 0.97
    )


@pytest.mark.parametrize(
    "field,value",
    [("name", "adam"), ("schedule", "step"), ("weight_decay_type", "l1")],
)
def test_unknown_optimizer_choices_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=f"optimizer.{field}={value!r} is not known"):
        OptimizerConfig(**{field: value})


@pytest.mark.parametrize("rate,epochs", [(0.0, 2.4), (1.5, 2.4), (0.97, 0.0)])
def test_exponential_schedule_refuses_a_rate_or_period_that_does_not_decay(rate, epochs):
    # The ranges of official/configs/validation.py: decay_rate in (0, 1], decay_epochs > 0.
    field = "decay_epochs" if epochs == 0 else "decay_rate"
    with pytest.raises(ValueError, match=rf"optimizer.{field}=\S+ is out of range: it must be "):
        OptimizerConfig(schedule="exponential", decay_rate=rate, decay_epochs=epochs)
