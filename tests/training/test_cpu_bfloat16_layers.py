"""runtime.cpu_bfloat16_layers: under mixed_bfloat16 on a CPU the Trainer keeps the layers whose
bfloat16 kernels are slow (DepthwiseConv2D) in float32 and everything else in bfloat16, on 2
replicas too; variables and the checkpoint layout are those of a float32 build."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from official import models
from official.configs import overrides, recipes
from official.training import loop, runtime
from official.training.runtime import get_strategy

TINY = dict(num_classes=4, input_shape=(32, 32, 3), width_multiplier=0.25, block_repeats=(1,) * 7)


@pytest.mark.usefixtures("mixed_bfloat16")
def test_only_the_listed_layers_go_to_float32_and_the_weights_do_not_change():
    model = models.get("efficientnet_b0", **TINY)
    names = [w.path for w in model.weights]
    kept = [layer.name for layer in runtime.cpu_bfloat16_layers(model)]
    depthwise = [
        layer.name for layer in model.layers if isinstance(layer, keras.layers.DepthwiseConv2D)
    ]
    assert kept == depthwise and depthwise
    for layer in model.layers:
        expected = "float32" if layer.name in kept else "bfloat16"
        if layer.weights and not isinstance(layer, keras.layers.InputLayer):
            assert layer.compute_dtype == expected, layer.name
    assert [w.path for w in model.weights] == names
    assert {w.dtype for w in model.weights if "seed" not in w.path} == {"float32"}
    assert runtime.cpu_bfloat16_layers(model) == []  # a second call finds nothing to change
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    logits = model(x, training=False)
    assert logits.dtype == "float32" and np.all(np.isfinite(logits))


# A Trainer on 2 replicas: the development subset keeps 2 replicas through test_agc_in_loop.py
# and test_mixed_precision.py.
@pytest.mark.slow
@pytest.mark.usefixtures("mixed_bfloat16")
def test_trainer_on_two_replicas_trains_with_float32_depthwise_layers(tmp_path, caplog):
    config = recipes.get("sample")
    config.model.name = "efficientnet_b0"
    config.model.kwargs = {k: v for k, v in TINY.items() if k != "num_classes"}
    overrides.apply_overrides(
        config, {"data.train_batch_size": 4, "optimizer.ema_decay": 0.0, "data.num_classes": 4}
    )
    strategy = get_strategy("mirrored")
    with caplog.at_level("INFO", logger="official.train"):
        trainer = loop.Trainer(config, strategy, str(tmp_path))
    assert "(DepthwiseConv2D) compute in float32 under bfloat16" in caplog.text
    assert trainer.model.get_layer("stem_conv1").compute_dtype == "bfloat16"
    images = tf.random.stateless_uniform((4, 32, 32, 3), seed=(1, 2))
    dataset = tf.data.Dataset.from_tensors((images, tf.constant([0, 1, 2, 3]))).repeat()
    metrics = trainer.train_loop(iter(strategy.experimental_distribute_dataset(dataset)), 2)
    assert trainer.step == 2 and np.isfinite(metrics.loss)
