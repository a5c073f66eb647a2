"""Pseudo labels (docs/REFERENCE.md §2.4): a teacher labels unlabeled images; the student's pipeline
reads them with the labeled shards."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from official import pseudo_label
from official.configs import overrides, recipes
from official.data import pipeline, preprocess, tfrecord
from official.training import loop, pseudo_labeling
from official.training.runtime import get_strategy
from tests import command_line

# Every test here uses a teacher trained by the fixture, or a subprocess: the slow set.
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def teacher_dir(sample_dir, tmp_path_factory):
    """A 10-class run directory (params.yaml + model.weights.h5), trained for 20 steps."""
    directory = tmp_path_factory.mktemp("teacher")
    config = recipes.get("sample")
    config.data.data_dir = sample_dir
    overrides.apply_overrides(config, {"train.steps_per_loop": 20, "data.train_batch_size": 32})
    trainer = loop.Trainer(config, get_strategy("cpu"), str(directory))
    trainer.train_loop(iter(loop.distributed_datasets(trainer, True)), 20)
    trainer.save_weights_file()
    overrides.save_yaml(config, str(directory / "params.yaml"))
    return str(directory)


def _records(path):
    return [tfrecord.parse_example(r) for r in tf.data.TFRecordDataset(path)]


def _teacher_view(teacher, image_bytes):
    """(top class, top probability) of the teacher on the eval crop of one image."""
    image = preprocess.preprocess_for_eval(image_bytes, teacher.image_size, tf.float32, 0)
    probabilities = teacher.probabilities(image[None])[0].numpy()
    return int(np.argmax(probabilities)), float(np.max(probabilities))


def _independent_top_classes(teacher_dir, images: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's classes computed without official/training/pseudo_labeling.py: the model
    rebuilt from params.yaml, its model.weights.h5 loaded by Keras, the eval crop at the
    recorded size, argmax of the logits in NumPy; and each image's margin between its two
    largest logits (a near-tie may round either way in another batch)."""
    from official import models

    config = overrides.load_config(os.path.join(teacher_dir, "params.yaml"))
    model = models.get(
        config.model.name, num_classes=config.data.num_classes, **config.model.kwargs
    )
    model.load_weights(os.path.join(teacher_dir, "model.weights.h5"))
    size, padding = config.data.resolved_eval_image_size, config.data.eval_crop_padding
    crops = np.stack(
        [preprocess.preprocess_for_eval(b, size, tf.float32, padding).numpy() for b in images]
    )
    logits = model.predict(crops, verbose=0)
    top2 = np.sort(logits, axis=-1)[:, -2:]
    return np.argmax(logits, axis=-1), top2[:, 1] - top2[:, 0]


def test_every_image_is_kept_unchanged_with_the_teachers_top_class(
    teacher_dir, sample_dir, tmp_path
):
    teacher = pseudo_labeling.load_teacher(teacher_dir)
    assert (teacher.image_size, teacher.preprocessing.crop_padding) == (32, 0)  # params.yaml
    totals = pseudo_labeling.pseudo_label(
        teacher, sample_dir, str(tmp_path), split="validation", min_confidence=0.0
    )
    assert (totals["seen"], totals["kept"]) == (360, 360)
    for index in range(2):
        name = tfrecord.shard_name("validation", index, 2)
        written = _records(tmp_path / tfrecord.shard_name("train", index, 2))
        source = _records(os.path.join(sample_dir, name))
        assert len(written) == len(source)
        for new, old in zip(written, source, strict=True):
            assert new["image_bytes"].numpy() == old["image_bytes"].numpy()
            assert new["filename"].numpy() == old["filename"].numpy()
        expected, margin = _independent_top_classes(teacher_dir, [r["image_bytes"] for r in source])
        labels = np.array([int(r["label"]) for r in written])
        clear = margin > 1e-4
        assert clear.mean() > 0.95
        np.testing.assert_array_equal(labels[clear], expected[clear])
        assert len(set(expected.tolist())) > 1  # a teacher labelling all alike proves little
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))


def test_confidence_threshold_and_resume(teacher_dir, sample_dir, tmp_path):
    teacher = pseudo_labeling.load_teacher(teacher_dir)
    source = _records(os.path.join(sample_dir, tfrecord.shard_name("validation", 0, 2)))
    source += _records(os.path.join(sample_dir, tfrecord.shard_name("validation", 1, 2)))
    confidences = [_teacher_view(teacher, r["image_bytes"])[1] for r in source]
    threshold = float(np.median(confidences))
    expected = sum(c >= threshold for c in confidences)
    assert 0 < expected < 360
    totals = pseudo_labeling.pseudo_label(
        teacher, sample_dir, str(tmp_path), split="validation", min_confidence=threshold
    )
    # Within float32 rounding of the batched vs single-image computation.
    assert abs(totals["kept"] - expected) <= 2 and totals["seen"] == 360
    again = pseudo_labeling.pseudo_label(
        teacher, sample_dir, str(tmp_path), split="validation", min_confidence=threshold
    )
    assert (again["seen"], again["kept"], again["kept_before"]) == (0, 0, totals["kept"])


def test_a_folder_of_image_files_skips_what_is_not_an_image(teacher_dir, tmp_path):
    folder = tmp_path / "photos" / "nested"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, fmt in enumerate(["PNG", "JPEG", "PNG"]):
        pixels = rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=fmt)
        (folder / f"img{i}.{fmt.lower()}").write_bytes(buffer.getvalue())
    (folder / "broken.jpg").write_bytes(b"not an image")
    teacher = pseudo_labeling.load_teacher(teacher_dir)
    out = tmp_path / "out"
    totals = pseudo_labeling.pseudo_label(
        teacher, str(tmp_path / "photos"), str(out), num_shards=2, min_confidence=0.0
    )
    assert totals["kept"] == 3 and [p for p, _ in totals["unreadable"]][0].endswith("broken.jpg")
    records = _records(out / "train-00000-of-00002") + _records(out / "train-00001-of-00002")
    assert sorted(os.path.basename(r["filename"].numpy().decode()) for r in records) == [
        "img0.png",
        "img1.jpeg",
        "img2.png",
    ]
    for record in records:  # re-encoded as JPEG with its true size
        assert tf.image.extract_jpeg_shape(record["image_bytes"]).numpy()[1] == 50


def test_the_student_pipeline_reads_labeled_and_pseudo_labeled_shards(
    teacher_dir, sample_dir, tmp_path
):
    teacher = pseudo_labeling.load_teacher(teacher_dir)
    pseudo_labeling.pseudo_label(
        teacher, sample_dir, str(tmp_path), split="validation", min_confidence=0.0
    )
    config = recipes.get("sample").data
    config.data_dir, config.pseudo_label_dir, config.train_batch_size = (
        sample_dir,
        str(tmp_path),
        100,
    )
    dataset = pipeline.build_dataset("train", config, repeat=False, drop_remainder=False)
    assert sum(int(labels.shape[0]) for _, labels in dataset) == 1437 + 360
    evaluation = pipeline.build_dataset("validation", config)
    assert sum(int(labels.shape[0]) for _, labels in evaluation) == 360  # not mixed in
    with pytest.raises(ValueError, match="data.pseudo_label_dir needs data.source='tfrecord'"):
        overrides.apply_overrides(
            recipes.get("sample"),
            {"data.source": "tfds:mnist", "data.pseudo_label_dir": str(tmp_path)},
        )


def test_a_confidence_outside_zero_to_one_is_refused(teacher_dir, sample_dir, tmp_path):
    teacher = pseudo_labeling.load_teacher(teacher_dir)
    with pytest.raises(ValueError, match=r"--min_confidence=1.5: a probability in \[0, 1\]"):
        pseudo_labeling.pseudo_label(teacher, sample_dir, str(tmp_path), min_confidence=1.5)
    assert not os.listdir(tmp_path)  # nothing written


def test_cli_without_its_required_flags_says_which(tmp_path, capsys):
    """In this process (tests/command_line.py); the next test runs the program as a process."""
    values, _ = command_line.program_flags(pseudo_label, [f"--out_dir={tmp_path}"])
    assert pseudo_label.run(values) == 2
    line = command_line.error_line(capsys.readouterr().err)
    assert line == "error: --teacher, --unlabeled and --out_dir are required."


def test_cli_names_a_folder_with_nothing_to_label(teacher_dir, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "official", "pseudo_label.py"),
            f"--teacher={teacher_dir}",
            f"--unlabeled={tmp_path}",
            f"--out_dir={tmp_path / 'out'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: --unlabeled={tmp_path} holds neither TFRecord shards" in result.stderr
