import numpy as np
import pytest
import tensorflow as tf

from official.configs import DataConfig
from official.data import pipeline, tfrecord
from official.training.runtime import get_strategy
from tests.data.conftest import encode, write_records


def _config(data_dir, **kwargs):
    base = dict(
        data_dir=data_dir,
        num_classes=10,
        image_size=32,
        train_batch_size=16,
        eval_batch_size=50,
        shuffle_buffer=64,
        augmentation="none",
    )
    return DataConfig(**{**base, **kwargs})


def _filenames(data_dir, context):
    files = pipeline.list_shards(data_dir, "train")
    dataset = tf.data.Dataset.from_tensor_slices(files).shard(
        context.num_input_pipelines, context.input_pipeline_id
    )
    return {f.numpy().decode() for f in dataset}


def test_two_input_pipelines_read_disjoint_files_covering_all(sample_dir):
    contexts = [tf.distribute.InputContext(2, i, 2) for i in range(2)]
    seen = [_filenames(sample_dir, c) for c in contexts]
    assert seen[0].isdisjoint(seen[1])
    assert seen[0] | seen[1] == set(pipeline.list_shards(sample_dir, "train"))
    # And the pipelines built from those contexts really read different records.
    config = _config(sample_dir)
    labels = [
        next(iter(pipeline.build_dataset("validation", config, c)))[1].numpy() for c in contexts
    ]
    assert len(labels[0]) == 25 and not np.array_equal(labels[0], labels[1])


def test_global_batch_16_over_two_replicas_gives_8_each(sample_dir):
    context = tf.distribute.InputContext(
        num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2
    )
    images, labels = next(iter(pipeline.build_dataset("train", _config(sample_dir), context)))
    assert images.shape == (8, 32, 32, 3) and labels.shape == (8,)

    strategy = get_strategy("mirrored")
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: pipeline.build_dataset("train", _config(sample_dir), ctx)
    )
    images, _ = next(iter(dist))
    assert [t.shape[0] for t in strategy.experimental_local_results(images)] == [8, 8]


def test_training_batches_are_normalized_and_labels_in_range(sample_dir):
    images, labels = next(iter(pipeline.build_dataset("train", _config(sample_dir))))
    assert images.dtype == tf.float32 and images.shape == (16, 32, 32, 3)
    assert -2.2 < float(tf.reduce_min(images)) and float(tf.reduce_max(images)) < 2.7
    assert set(labels.numpy()) <= set(range(10))


def test_evaluation_is_deterministic_and_complete(sample_dir):
    config = _config(sample_dir)
    first = [y.numpy() for _, y in pipeline.build_dataset("validation", config)]
    second = [y.numpy() for _, y in pipeline.build_dataset("validation", config)]
    assert sum(len(y) for y in first) == 360  # every fifth of 1,797, last batch kept
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(second))


@pytest.mark.parametrize("augmentation", ["randaugment", "bag_of_tricks"])
def test_recipes_augmentations_in_bfloat16(sample_dir, augmentation):
    config = _config(
        sample_dir, augmentation=augmentation, dtype="bfloat16", randaugment_magnitude=15
    )
    images, _ = next(iter(pipeline.build_dataset("train", config)))
    assert images.dtype == tf.bfloat16 and images.shape == (16, 32, 32, 3)


def test_mixup_and_cutmix_give_soft_labels(sample_dir):
    config = _config(sample_dir, mixup_alpha=0.2, cutmix_alpha=1.0)
    _, labels = next(iter(pipeline.build_dataset("train", config)))
    assert labels.shape == (16, 10)
    np.testing.assert_allclose(labels.numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert np.any((labels.numpy() > 0) & (labels.numpy() < 1))
    _, eval_labels = next(iter(pipeline.build_dataset("validation", config)))
    assert set(np.unique(eval_labels.numpy())) <= {0.0, 1.0}  # evaluation is never mixed


@pytest.fixture
def corrupt_dir(tmp_path, photos):
    good = [(encode(photos[n]), i + 1) for i, n in enumerate(["chelsea", "coffee", "rocket"])]
    broken = (encode(photos["astronaut"])[:2000], 4)  # a truncated JPEG
    write_records(tmp_path / tfrecord.shard_name("train", 0, 1), [good[0], broken, *good[1:]])
    write_records(tmp_path / tfrecord.shard_name("validation", 0, 1), [good[0], broken, good[1]])
    return str(tmp_path)


def test_training_skips_and_counts_a_corrupt_record(corrupt_dir):
    config = _config(corrupt_dir, train_batch_size=1, image_size=48)
    skipped = pipeline.SkippedRecords()
    one_epoch = pipeline.build_dataset("train", config, repeat=False, skipped=skipped)
    labels = sorted(int(y[0]) for _, y in one_epoch)
    assert labels == [0, 1, 2] and skipped.count == 1
    # Repeated, the count grows by one per epoch.
    skipped = pipeline.SkippedRecords()
    forever = pipeline.build_dataset("train", config, skipped=skipped)
    assert len(list(forever.take(9))) == 9 and skipped.count >= 2


def test_training_keeps_the_record_order_when_it_skips(tmp_path, photos):
    """Decoding runs in parallel, one record per inner dataset: the order (which the skip
    count and the per-example augmentation seeds rely on) is the records' order."""
    good = encode(photos["chelsea"])
    broken = encode(photos["astronaut"])[:2000]
    records = [(broken if i in (3, 7, 8) else good, i) for i in range(40)]
    write_records(tmp_path / tfrecord.shard_name("train", 0, 1), records)
    config = _config(str(tmp_path), train_batch_size=1, image_size=16, shuffle_buffer=1)
    skipped = pipeline.SkippedRecords()
    one_epoch = pipeline.build_dataset("train", config, repeat=False, skipped=skipped)
    labels = [int(y[0]) for _, y in one_epoch]
    assert labels == [i - 1 for i in range(40) if i not in (0, 3, 7, 8)] and skipped.count == 3


def test_training_raises_on_a_truncated_shard_instead_of_skipping_its_end(tmp_path, photos):
    """A shard cut mid-record is a reading error, not an undecodable image: it stops the input
    with TensorFlow's DataLossError (train.py names the shard: official/data/shard_check.py)."""
    path = tmp_path / tfrecord.shard_name("train", 0, 1)
    write_records(path, [(encode(photos["chelsea"]), i + 1) for i in range(6)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3 + 100])  # inside record 4's data
    config = _config(str(tmp_path), train_batch_size=1, image_size=16)
    with pytest.raises(tf.errors.DataLossError, match="truncated record"):
        list(pipeline.build_dataset("train", config, repeat=False))


def test_evaluation_raises_on_a_corrupt_record(corrupt_dir):
    config = _config(corrupt_dir, image_size=48)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid JPEG data"):
        list(pipeline.build_dataset("validation", config))


def test_missing_shards_and_bad_source_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No TFRecord shards match .*train-\?\?\?\?\?"):
        pipeline.build_dataset("train", _config(str(tmp_path)))
    with pytest.raises(ValueError, match=r"data.source='csv'"):
        pipeline.build_dataset("train", _config(str(tmp_path), source="csv"))
    with pytest.raises(ValueError, match=r"data.augmentation='autoaugment'"):
        _config(str(tmp_path), augmentation="autoaugment")


def _two_batches(config):
    return [(x.numpy(), y.numpy()) for x, y in pipeline.build_dataset("train", config).take(2)]


@pytest.fixture
def op_determinism():
    from tensorflow.python.framework import config as tf_config  # disable: not public API

    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        tf_config.disable_op_determinism()


@pytest.mark.parametrize(
    ("augmentation", "preprocessing"), [("randaugment", "official_tpu"), ("bag_of_tricks", "tf2")]
)
def test_a_fixed_seed_gives_identical_batches_under_op_determinism(
    sample_dir, op_determinism, augmentation, preprocessing
):
    kwargs = dict(augmentation=augmentation, randaugment_layers=1, preprocessing=preprocessing)
    config = _config(sample_dir, seed=7, **kwargs)
    first, second = _two_batches(config), _two_batches(config)
    for (x1, y1), (x2, y2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(first[0][0], first[1][0])
    other = _two_batches(_config(sample_dir, seed=8, **kwargs))
    assert not np.array_equal(first[0][0], other[0][0])
    images, _ = next(iter(pipeline.build_dataset("validation", config)))
    assert images.shape == (50, 32, 32, 3)
