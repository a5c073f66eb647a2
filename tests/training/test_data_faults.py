"""A damaged shard stops a run with one line naming it: refused before any work when the set's
dataset.json records its size (official/data/dataset_record.py), and otherwise named after the
failure inside the graph, whose TensorFlow text names no file (official/data/shard_check.py)."""

import json
import os
import shutil

import numpy as np
import pytest

from tests import command_line

SMALL = {
    "train.train_steps": 2,
    "train.steps_per_loop": 2,
    "data.train_batch_size": 4,
    "data.eval_batch_size": 4,
    "runtime.precision": "float32",
    "model.kwargs": {"width_multiplier": 0.25, "block_repeats": [1, 1, 1, 1]},
}


def _train(data_dir, run_dir, mode, capsys):
    argv = [f"--data_dir={data_dir}", f"--model_dir={run_dir}", f"--mode={mode}"]
    status = command_line.train_status([*argv, f"--params_override={json.dumps(SMALL)}"])
    return status, capsys.readouterr().err.strip().splitlines()


def test_a_truncated_shard_of_a_converted_set_is_refused_before_anything_is_written(
    tmp_path, capsys
):
    from PIL import Image

    from official.data import build_tfrecords

    for c, name in enumerate(("cats", "dogs")):
        for split in ("train", "validation"):
            folder = tmp_path / "raw" / split / name
            folder.mkdir(parents=True)
            for i in range(3):
                pixels = np.full((16, 16, 3), 30 * (i + 1), np.uint8)
                pixels[..., c] = 200
                Image.fromarray(pixels).save(folder / f"{i}.jpg")
    data_dir = tmp_path / "tfrecords"
    argv = [f"--input_dir={tmp_path / 'raw'}", f"--output_dir={data_dir}", "--num_workers=1"]
    values, _ = command_line.program_flags(build_tfrecords, argv)
    assert build_tfrecords.run(values) == 0
    capsys.readouterr()  # the converter's progress bar
    shard = data_dir / "train-00000-of-00001"
    whole = shard.stat().st_size
    shard.write_bytes(shard.read_bytes()[: whole // 2])  # a copy cut short

    status, err = _train(data_dir, tmp_path / "run", "train", capsys)
    assert status == 2
    assert err == [
        f"error: shard {shard} is truncated: {whole // 2} bytes, {data_dir}/dataset.json "
        f"records {whole}; copy it again or convert the data again."
    ]
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.slow  # a train_and_eval run
def test_a_truncated_shard_read_inside_the_graph_is_named(
    sample_dir, tmp_path, capsys, float32_afterwards
):
    # The bundled set has no dataset.json: its validation shard fails inside the eval graph.
    data_dir = tmp_path / "data"
    shutil.copytree(sample_dir, data_dir)
    shard = data_dir / "validation-00001-of-00002"
    shard.write_bytes(shard.read_bytes()[:5000])
    status, err = _train(data_dir, tmp_path / "run", "train_and_eval", capsys)
    assert status == 1
    assert len(err) == 1, err
    assert err[0].startswith(f"error: shard {shard} is truncated: 5000 bytes, record ")
    assert "copy it again or rebuild the set" in err[0]
    assert "TensorFlow said: " in err[0]


def test_a_truncated_training_shard_without_a_record_stops_the_run_naming_it(
    sample_dir, tmp_path, capsys, float32_afterwards
):
    """Without dataset.json the cut shows only inside the graph; the run stops naming the shard
    (the input pipeline once skipped the error with the undecodable images and trained on)."""
    data_dir = tmp_path / "data"
    shutil.copytree(sample_dir, data_dir)
    for shard in sorted(data_dir.glob("train-*")):
        data = shard.read_bytes()
        shard.write_bytes(data[: len(data) // 3 + 7])  # inside a record
    status, err = _train(data_dir, tmp_path / "run", "train", capsys)
    assert status == 1 and len(err) == 1, err
    assert err[0].startswith("error: shard ") and " is truncated: " in err[0], err[0]
    assert "TensorFlow said: " in err[0]


@pytest.mark.slow  # a train_and_eval run
def test_an_undecodable_validation_record_stops_evaluation_with_one_line(
    sample_dir, tmp_path, capsys, float32_afterwards
):
    """Evaluation never skips (its top-1 would be over fewer images than it says): a record
    whose JPEG does not decode ends the run with one line naming its shard, record and file
    (official/data/shard_check.py re-reads the shards) and carrying TensorFlow's reason."""
    from official.data import tfrecord
    from tests.data.conftest import write_records

    data_dir = tmp_path / "data"
    shutil.copytree(sample_dir, data_dir)
    for shard in data_dir.glob("validation-*"):
        shard.unlink()
    records = [tfrecord.parse_example(r) for r in _read(sample_dir, "validation-00000-of-00002")]
    good = [(r["image_bytes"].numpy(), int(r["label"]) + 1) for r in records[:7]]
    write_records(data_dir / "validation-00000-of-00001", [*good, (good[0][0][:40], 1)])
    status, err = _train(data_dir, tmp_path / "run", "train_and_eval", capsys)
    assert status == 2 and len(err) == 1, err
    shard = data_dir / "validation-00000-of-00001"
    assert err[0].startswith(
        f"error: shard {shard}, record 7 (img7.jpg): an evaluation record "
        "is not a decodable image ("
    ), err[0]
    assert "is not a decodable image (Invalid JPEG data" in err[0], err[0]
    assert err[0].endswith(
        "rebuild the validation shards with official/data/build_tfrecords.py, which drops them."
    ), err[0]


def _read(data_dir, name):
    import tensorflow as tf

    return list(tf.data.TFRecordDataset(os.path.join(data_dir, name)))
