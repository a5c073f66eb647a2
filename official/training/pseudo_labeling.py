"""Pseudo labels, Noisy Student style (docs/REFERENCE.md §2.4; official/pseudo_label.py is the
program): a teacher labels unlabeled images, and a student trains on the labeled and the
pseudo-labeled shards together, with its noise (RandAugment, dropout, stochastic depth) on.

The teacher runs without noise (inference mode) on the eval crop at its own eval resolution.
Each kept image is written unchanged with the teacher's top class as a hard label (Noisy
Student's ImageNet runs kept images of confidence >= 0.3); output shard i holds what input
chunk i produced, written atomically, and shards already written are skipped, so an
interrupted run resumes. Noisy Student's per-class balancing and soft labels are not done here.
"""

from __future__ import annotations

import collections
import dataclasses
import os

import keras
import tensorflow as tf

from official.data import image_files, preprocess, tfrecord
from official.data.eval_preprocessing import EvalPreprocessing
from official.serving import keras_file
from official.training import finetune


@dataclasses.dataclass
class Teacher:
    model: keras.Model
    preprocessing: EvalPreprocessing  # what the teacher was trained for (its crop and statistics)

    @property
    def image_size(self) -> int:
        return self.preprocessing.image_size

    def __post_init__(self):
        model = self.model
        self.probabilities = tf.function(
            lambda images: tf.nn.softmax(tf.cast(model(images, training=False), tf.float32))
        )


def load_teacher(source: str, image_size: int = 0) -> Teacher:
    """A training run's directory (its eval resolution and crop from params.yaml) or a `.keras`
    file (the preprocessing it stores, else its static input size or `image_size` with the
    default crop). Its outputs are taken as logits."""
    if not source.endswith(".keras"):
        model, config = finetune.load_run(source)
        stored = EvalPreprocessing.from_config(config.data)
    else:
        model = finetune.load_source(source)
        stored, _ = keras_file.read_entries(source)  # the preprocessing it was trained for
    size = image_size or (stored.image_size if stored else model.input_shape[1])
    if not size:
        raise ValueError(f"--teacher={source} takes any input size: give --image_size.")
    if stored is None:
        return Teacher(model, EvalPreprocessing(size, preprocess.CROP_PADDING))
    return Teacher(model, dataclasses.replace(stored, image_size=size))


# ---- Unlabeled inputs: chunks of (JPEG bytes, filename) -----------------------------------------
def input_chunks(unlabeled: str, split: str, num_chunks: int) -> list:
    """One chunk per TFRecord shard of `split` in `unlabeled`; or, for a folder of image files
    (searched recursively), the sorted files cut into num_chunks contiguous chunks."""
    shards = sorted(tf.io.gfile.glob(os.path.join(unlabeled, tfrecord.file_pattern(split))))
    if shards:
        return [("shard", path) for path in shards]
    files = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(unlabeled)
        for name in names
        if name.lower().endswith(image_files.IMAGE_EXTENSIONS)
    )
    if not files:
        raise FileNotFoundError(
            f"--unlabeled={unlabeled} holds neither TFRecord shards named like "
            f"{tfrecord.shard_name(split, 0, 1)} nor image files "
            f"({', '.join(image_files.IMAGE_EXTENSIONS)})."
        )
    size = -(-len(files) // num_chunks)
    return [("files", files[i : i + size]) for i in range(0, len(files), size)]


def _chunk_dataset(chunk, unreadable: list) -> tf.data.Dataset:
    kind, content = chunk
    if kind == "shard":
        dataset = tf.data.TFRecordDataset(content)
        return dataset.map(lambda r: _bytes_and_name(tfrecord.parse_example(r)))

    def files():
        for path in content:
            with open(path, "rb") as f:
                data = f.read()
            try:
                jpeg, _, _ = image_files.to_rgb_jpeg(data)
            except image_files.NotAnImageError as e:
                unreadable.append((path, str(e)))
                continue
            yield jpeg, path

    spec = (tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string))
    return tf.data.Dataset.from_generator(files, output_signature=spec)


def _bytes_and_name(example):
    return example["image_bytes"], example["filename"]


def label_chunk(teacher: Teacher, chunk, min_confidence: float, label_offset: int, batch: int):
    """Serialized examples of the images in `chunk` whose top probability reaches
    min_confidence, labelled with the teacher's top class (+ label_offset, the on-disk
    convention); also fills `stats` (seen, per-class kept) and `unreadable` as it goes."""
    stats = {"seen": 0, "kept": collections.Counter()}
    unreadable: list = []

    def prepare(image_bytes, filename):
        image = teacher.preprocessing(image_bytes)
        shape = tf.image.extract_jpeg_shape(image_bytes)
        return image, image_bytes, filename, shape[0], shape[1]

    dataset = _chunk_dataset(chunk, unreadable).map(prepare, num_parallel_calls=tf.data.AUTOTUNE)

    def records():
        try:
            for images, encoded, names, heights, widths in dataset.batch(batch).prefetch(2):
                probabilities = teacher.probabilities(images)
                classes = tf.argmax(probabilities, axis=-1).numpy()
                confidences = tf.reduce_max(probabilities, axis=-1).numpy()
                stats["seen"] += len(classes)
                for i, (label, confidence) in enumerate(zip(classes, confidences, strict=True)):
                    if confidence < min_confidence:
                        continue
                    stats["kept"][int(label)] += 1
                    yield tfrecord.encode_example(
                        encoded[i].numpy(),
                        int(label) + label_offset,
                        height=int(heights[i]),
                        width=int(widths[i]),
                        filename=names[i].numpy().decode(),
                    )
        except tf.errors.InvalidArgumentError as e:
            where = chunk[1] if chunk[0] == "shard" else "the image files"
            raise ValueError(f"{where}: a record is not a decodable JPEG ({e.message})") from None

    return records(), stats, unreadable


def pseudo_label(
    teacher: Teacher,
    unlabeled: str,
    out_dir: str,
    *,
    split: str = "train",
    out_split: str = "train",
    num_shards: int = 64,
    min_confidence: float = 0.3,
    label_offset: int = tfrecord.LABEL_OFFSET,
    batch_size: int = 64,
) -> dict:
    """Writes out_dir/<out_split>-0000i-of-N for every input chunk (the student's train split
    name, which its pipeline reads); returns the totals (images
    seen and kept in this call, kept in shards an earlier call wrote, unreadable files)."""
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"--min_confidence={min_confidence}: a probability in [0, 1].")
    chunks = input_chunks(unlabeled, split, num_shards)
    tf.io.gfile.makedirs(out_dir)
    totals = {"seen": 0, "kept": 0, "kept_before": 0, "per_class": collections.Counter()}
    failures = []
    for index, chunk in enumerate(chunks):
        path = os.path.join(out_dir, tfrecord.shard_name(out_split, index, len(chunks)))
        if tf.io.gfile.exists(path):
            totals["kept_before"] += sum(1 for _ in tf.data.TFRecordDataset(path))
            continue
        records, stats, unreadable = label_chunk(
            teacher, chunk, min_confidence, label_offset, batch_size
        )
        totals["kept"] += tfrecord.write_shard(path, records)
        totals["seen"] += stats["seen"]
        totals["per_class"].update(stats["kept"])
        failures += unreadable
    totals["unreadable"] = failures
    return totals
