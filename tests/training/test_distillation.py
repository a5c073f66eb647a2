"""Knowledge distillation in the training loop (docs/REFERENCE.md §2.7): the loss of a step equals
mean((1 - w) * CE_smoothed(y, s) + w * T^2 * CE(softmax(t / T), softmax(s / T))), computed here
in NumPy from the student's and the teacher's logits, for a `.keras` and a SavedModel teacher."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from official import models
from official.configs import overrides, recipes
from official.data import pipeline
from official.training import distillation_teacher, loop
from official.training.runtime import get_strategy

WEIGHT, TEMPERATURE, SMOOTHING, CLASSES = 0.3, 4.0, 0.1, 10


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def expected_loss(student, teacher, labels, weight, temperature):
    target = np.eye(CLASSES)[labels] * (1 - SMOOTHING) + SMOOTHING / CLASSES
    hard = -(target * log_softmax(student)).sum(axis=1)
    soft_target = np.exp(log_softmax(teacher / temperature))
    soft = -(soft_target * log_softmax(student / temperature)).sum(axis=1)
    return float(np.mean((1 - weight) * hard + weight * temperature**2 * soft))


@pytest.fixture(scope="module")
def teacher_files(tmp_path_factory):
    """One teacher network, saved both ways; returns (its paths, the network)."""
    keras.utils.set_random_seed(5)
    teacher = models.get(
        "resnet18", width_multiplier=0.25, num_classes=CLASSES, input_shape=(32, 32, 3)
    )
    rng = np.random.default_rng(5)
    for layer in teacher.layers:  # a teacher with an opinion: non-zero residual branches
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape))
    root = tmp_path_factory.mktemp("teacher")
    teacher.save(root / "teacher.keras")
    teacher.export(str(root / "saved_model"), format="tf_saved_model", verbose=False)
    return {"keras": str(root / "teacher.keras"), "saved_model": str(root / "saved_model")}, teacher


@pytest.mark.parametrize(
    "teacher_format", ["keras", pytest.param("saved_model", marks=pytest.mark.slow)]
)
def test_step_loss_equals_the_distillation_formula(
    teacher_format, teacher_files, sample_dir, tmp_path
):
    paths, teacher = teacher_files
    config = recipes.get("sample")
    config.data.data_dir = sample_dir
    kwargs = {**config.model.kwargs, "dropout_rate": 0.0}
    overrides.apply_overrides(
        config,
        {
            "model.kwargs": kwargs,
            "data.train_batch_size": 8,
            "data.shuffle_buffer": 64,
            "optimizer.label_smoothing": SMOOTHING,
            "train.teacher": paths[teacher_format],
            "train.distillation_weight": WEIGHT,
            "train.distillation_temperature": TEMPERATURE,
        },
    )
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path))
    images, labels = next(iter(pipeline.build_dataset("train", config.data)))
    # The logits the step will see: the student in training mode (batch statistics; no dropout
    # or stochastic depth in this config), the teacher in inference mode.
    student = np.asarray(trainer.model(images, training=True), np.float64)
    teacher_logits = np.asarray(teacher(images, training=False), np.float64)
    labels = labels.numpy()
    expected = expected_loss(student, teacher_logits, labels, WEIGHT, TEMPERATURE)

    dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
    loss = trainer.train_loop(iter(dataset), 1).loss
    assert loss == pytest.approx(expected, rel=1e-5)
    # The weight and the temperature both matter at these values: ignoring either would be seen.
    for weight, temperature in ((0.0, TEMPERATURE), (WEIGHT, 1.0)):
        other = expected_loss(student, teacher_logits, labels, weight, temperature)
        assert abs(other - expected) > 1e-2 * expected


def test_the_teacher_gets_the_batch_normalized_as_it_was_trained(tmp_path):
    """A student fine-tuned with other statistics (data.mean_rgb, data.stddev_rgb) hands its
    teacher the batch re-normalized to the teacher's own (its .keras record: tf2's)."""
    from official.data import preprocess
    from official.data.eval_preprocessing import EvalPreprocessing
    from official.serving import image as image_export
    from official.serving import keras_file

    inputs = keras.Input((8, 8, 3))
    teacher = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))  # its input
    path = str(tmp_path / "teacher.keras")
    keras_file.save(teacher, path, EvalPreprocessing(8, 0, "tf2"))
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    want = ((pixels - preprocess.MEAN_RGB) / preprocess.STDDEV_RGB).mean(axis=(1, 2))

    data = recipes.get("sample").data
    data.mean_rgb, data.stddev_rgb = [127.5] * 3, [127.5, 100.0, 64.0]
    student_batch = (pixels - 127.5) / np.array([127.5, 100.0, 64.0], "float32")
    got = distillation_teacher.load(path, data)(tf.constant(student_batch))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)

    data.mean_rgb = data.stddev_rgb = None  # the student's statistics are the teacher's
    same = (pixels - preprocess.MEAN_RGB) / preprocess.STDDEV_RGB
    np.testing.assert_allclose(
        distillation_teacher.load(path, data)(tf.constant(same)), want, rtol=1e-5
    )
    # a SavedModel teacher: the record in its assets.extra (official/serving/image.py)
    saved = tmp_path / "teacher_saved_model"
    teacher.export(str(saved), format="tf_saved_model", verbose=False)
    os.makedirs(saved / "assets.extra", exist_ok=True)
    inception = EvalPreprocessing(8, 0, "tf2", (127.5,) * 3, (127.5,) * 3)
    (saved / image_export.RECORD_PATH).write_text(inception.to_json())
    want = ((pixels - 127.5) / 127.5).mean(axis=(1, 2))
    got = distillation_teacher.load(str(saved), data)(tf.constant(same, tf.float32))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
