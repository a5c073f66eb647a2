"""official/training/checkpoints.py: the walk back over damaged checkpoints (docs/run_directory.md,
rule 4)."""

import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from official.training import checkpoints, run_dir
from tests.checkpoint_damage import CORRUPTIONS, truncate_data, zero_inside_data


def _model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(4000), keras.layers.Dense(3)])


def _kernel(model):
    return np.asarray(model.layers[0].kernel)


@pytest.fixture
def three_checkpoints(tmp_path):
    """ckpt-1..3 of a small model, each with different (known) weights."""
    model = _model(0)
    checkpoint = tf.train.Checkpoint(model=model)
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=5)
    kernels = {}
    for step in (1, 2, 3):
        model.layers[0].kernel.assign(np.full((8, 4000), float(step), np.float32))
        kernels[step] = _kernel(model)
        manager.save(checkpoint_number=step)
    return str(tmp_path), kernels


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_walk_back_skips_a_corrupt_checkpoint_names_it_and_moves_it_aside(
    corruption, three_checkpoints, caplog
):
    directory, kernels = three_checkpoints
    CORRUPTIONS[corruption](f"{directory}/ckpt-3")
    model = _model(1)
    with caplog.at_level(logging.WARNING, logger="official.train"):
        path = checkpoints.restore_latest(tf.train.Checkpoint(model=model), directory)
    assert path == f"{directory}/ckpt-2"
    np.testing.assert_array_equal(_kernel(model), kernels[2])
    skipped = [r.getMessage() for r in caplog.records if "does not restore" in r.getMessage()]
    assert len(skipped) == 1 and f"{directory}/ckpt-3 " in skipped[0], skipped
    reason = {
        "truncated": "Read less bytes than requested",
        "garbled_index": "bad magic number",
        "zeroed": "Checksum does not match",
    }[corruption]
    assert reason in skipped[0]
    names = sorted(os.listdir(directory))
    assert "ckpt-3.index.corrupt" in names and "ckpt-3.data-00000-of-00001.corrupt" in names
    assert "ckpt-3.index" not in names  # moved, not copied; nothing deleted
    assert tf.train.latest_checkpoint(directory).endswith("ckpt-2")  # state file follows


def test_no_restorable_checkpoint_is_one_clear_error(three_checkpoints):
    directory, _ = three_checkpoints
    for step in (1, 2, 3):
        truncate_data(f"{directory}/ckpt-{step}")
    with pytest.raises(
        checkpoints.CheckpointError, match=r"none of the 3 checkpoints in .* restores"
    ):
        checkpoints.restore_latest(tf.train.Checkpoint(model=_model(1)), directory)
    assert sum(n.endswith(".corrupt") for n in os.listdir(directory)) == 6


def test_another_model_is_a_mismatch_and_nothing_is_moved(three_checkpoints):
    directory, _ = three_checkpoints
    keras.utils.set_random_seed(0)
    other = keras.Sequential([keras.Input((8,)), keras.layers.Dense(10), keras.layers.Dense(3)])
    with pytest.raises(checkpoints.CheckpointError, match=r"ckpt-3 does not fit this model"):
        checkpoints.restore_latest(tf.train.Checkpoint(model=other), directory)
    assert not any(n.endswith(".corrupt") for n in os.listdir(directory))


def test_read_only_directory_falls_back_without_writing(three_checkpoints, monkeypatch, caplog):
    directory, kernels = three_checkpoints
    zero_inside_data(f"{directory}/ckpt-3")
    before = sorted(os.listdir(directory))

    def forbidden(path, action):
        raise PermissionError(f"read-only file system: {path}")

    monkeypatch.setattr(run_dir, "modify", forbidden)
    model = _model(1)
    with caplog.at_level(logging.WARNING, logger="official.train"):
        assert checkpoints.restore_latest(tf.train.Checkpoint(model=model), directory).endswith(
            "-2"
        )
    np.testing.assert_array_equal(_kernel(model), kernels[2])
    assert sorted(os.listdir(directory)) == before
    assert any("left" in r.getMessage() and "in place" in r.getMessage() for r in caplog.records)


# ---- A save that fails (issue #30): the checkpoint, the reason, where a rerun resumes ----
# What TensorFlow 2.21 raised for a full disk (a 64 KB tmpfs), with this test's directory.
DISK_FULL = (
    "{{function_node __wrapped__SaveV2_dtypes_3_device_/job:localhost/replica:0/task:0/device:"
    "CPU:0}} DIR/ckpt-10_temp/part-00000-of-00001.data-00000-of-00001.tempstate18596610413881757"
    "23; No space left on device [Op:SaveV2]"
)


@pytest.mark.parametrize("raised", ["ResourceExhaustedError", "OSError"])
def test_a_save_on_a_full_disk_is_one_line_saying_where_the_rerun_resumes(
    raised, tmp_path, monkeypatch
):
    import errno

    from official.configs import recipes
    from official.training import loop

    trainer = loop.Trainer(recipes.get("sample"), tf.distribute.get_strategy(), str(tmp_path))
    trainer.optimizer.iterations.assign(5)
    trainer.save()
    trainer.optimizer.iterations.assign(10)
    text = DISK_FULL.replace("DIR", str(tmp_path))
    error = (
        tf.errors.ResourceExhaustedError(None, None, text)
        if raised == "ResourceExhaustedError"
        else OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"{tmp_path}/checkpoint.tmp")
    )

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(tf.train.Checkpoint, "_write", full)
    with pytest.raises(checkpoints.CheckpointError) as failed:
        trainer.save()
    assert str(failed.value) == (
        f"saving checkpoint ckpt-10 into {tmp_path} failed: No space left on device; free "
        "space and rerun: the run resumes from its last checkpoint (step 5)."
    )
    # what a rerun restores: ckpt-5, whole
    assert checkpoints.checkpoint_paths(str(tmp_path)) == [f"{tmp_path}/ckpt-5"]
    assert checkpoints.integrity_problem(f"{tmp_path}/ckpt-5") is None


def test_a_first_save_that_fails_for_another_reason_says_so(tmp_path, monkeypatch):
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=_model(0)), str(tmp_path), max_to_keep=2
    )

    def denied(*args, **kwargs):
        raise tf.errors.PermissionDeniedError(
            None, None, f"{tmp_path}/ckpt-3_temp; Permission denied"
        )

    monkeypatch.setattr(tf.train.Checkpoint, "_write", denied)
    with pytest.raises(checkpoints.CheckpointError) as failed:
        checkpoints.save(manager, 3)
    assert str(failed.value) == (
        f"saving checkpoint ckpt-3 into {tmp_path} failed: Permission denied; fix that and rerun: "
        "no checkpoint was saved before, so the run starts again from step 0."
    )
