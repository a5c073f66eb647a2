"""Fine-tuning (docs/REFERENCE.md §2.4): train.init_weights from a run directory or a .keras
file."""

import numpy as np
import pytest

from official.configs import overrides, recipes
from official.training import finetune, loop
from official.training.runtime import get_strategy

# The fixture trains the source run: the slow set.
pytestmark = pytest.mark.slow


def _config(data_dir, **extra):
    config = recipes.get("sample")
    config.data.data_dir = data_dir
    return overrides.apply_overrides(
        config, {"train.steps_per_loop": 5, "data.train_batch_size": 32, **extra}
    )


@pytest.fixture(scope="module")
def source_run(sample_dir, tmp_path_factory):
    """A 10-class run trained 5 steps: params.yaml, a checkpoint and model.weights.h5 (EMA)."""
    directory = tmp_path_factory.mktemp("source")
    config = _config(sample_dir)
    trainer = loop.Trainer(config, get_strategy("cpu"), str(directory))
    trainer.train_loop(iter(loop.distributed_datasets(trainer, True)), 5)
    trainer.manager.save(checkpoint_number=trainer.step)
    trainer.save_weights_file()
    overrides.save_yaml(config, str(directory / "params.yaml"))
    with trainer.averaged_weights():
        ema_weights = {w.path: np.asarray(w) for w in trainer.model.weights}
    raw_weights = {w.path: np.asarray(w) for w in trainer.model.weights}
    return directory, ema_weights, raw_weights


def _weights(model):
    return {w.path: np.asarray(w) for w in model.weights}


def test_new_class_count_gets_a_fresh_classifier_and_everything_else(sample_dir, source_run):
    directory, ema_weights, _ = source_run
    config = _config(sample_dir, **{"data.num_classes": 5, "train.init_weights": str(directory)})
    trainer = loop.Trainer(config, get_strategy("cpu"), str(directory.parent / "five"))
    got = _weights(trainer.model)
    assert got["classifier/kernel"].shape[-1] == 5
    copied = [p for p in got if not p.startswith("classifier/")]
    assert any("moving_mean" in p for p in copied)  # BN statistics travel too
    for path in copied:
        np.testing.assert_array_equal(got[path], ema_weights[path], path)
    # The EMA starts from the loaded weights, not from the random initialization.
    paths = [w.path for w in trainer.ema._model_variables]
    shadow = dict(zip(paths, trainer.ema.shadows, strict=True))
    np.testing.assert_array_equal(
        np.asarray(shadow["stem_conv1/kernel"]), ema_weights["stem_conv1/kernel"]
    )


def test_same_classes_from_a_keras_file_copies_the_classifier(sample_dir, source_run, tmp_path):
    directory, ema_weights, _ = source_run
    source = finetune.load_source(str(directory))
    source.save(tmp_path / "source.keras")
    target = loop.build_model(_config(sample_dir))
    assert finetune.initialize_from(target, str(tmp_path / "source.keras")) == []
    for path, value in _weights(target).items():
        np.testing.assert_array_equal(value, ema_weights[path], path)


def test_run_without_weights_file_loads_its_latest_checkpoint(sample_dir, source_run, tmp_path):
    directory, _, raw_weights = source_run
    copy = tmp_path / "copy"
    copy.mkdir()
    for item in directory.iterdir():
        if item.name != "model.weights.h5":
            (copy / item.name).write_bytes(item.read_bytes())
    target = loop.build_model(_config(sample_dir))
    finetune.initialize_from(target, str(copy))
    got = _weights(target)
    for path in ("stem_conv1/kernel", "classifier/kernel"):
        np.testing.assert_array_equal(got[path], raw_weights[path], path)


def test_a_different_network_is_refused_by_layer_name(sample_dir, source_run, tmp_path):
    directory, _, _ = source_run
    wider = loop.build_model(_config(sample_dir, **{"model.kwargs": {"width_multiplier": 0.5}}))
    with pytest.raises(ValueError, match=r"Layer 'stem_conv1': weights of shapes"):
        finetune.initialize_from(wider, str(directory))
    with pytest.raises(FileNotFoundError, match="neither a .keras file nor a training run"):
        finetune.initialize_from(wider, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no such file"):
        finetune.initialize_from(wider, str(tmp_path / "missing.keras"))
