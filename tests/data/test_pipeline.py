import os

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


def _train_images(config, batches=2) -> np.ndarray:
    dataset = pipeline.build_dataset("train", config).take(batches)
    return np.concatenate([x.numpy().astype(np.float32) for x, _ in dataset])


def test_the_pipeline_applies_randaugment_and_the_bag_of_tricks_jitter(sample_dir):
    """Statistics of the output, against the same seed without augmentation (the same crops
    and flips: the crop seed does not depend on the augmentation). RandAugment changes most
    images; the jitter (brightness, saturation, contrast, PCA lighting) changes every one and
    moves its mean and spread."""
    plain = _train_images(_config(sample_dir, seed=5))
    randaugment = _train_images(_config(sample_dir, seed=5, augmentation="randaugment"))
    jitter = _train_images(_config(sample_dir, seed=5, augmentation="bag_of_tricks"))
    assert plain.shape == randaugment.shape == jitter.shape == (32, 32, 32, 3)

    def changed(images):  # per image: mean absolute change, in normalized units
        return np.abs(images - plain).mean(axis=(1, 2, 3))

    assert np.mean(changed(randaugment) > 0.05) > 0.75
    assert np.all(changed(jitter) > 1e-3)
    means = (jitter.mean(axis=(1, 2, 3)) - plain.mean(axis=(1, 2, 3))) / plain.std()
    spreads = jitter.std(axis=(1, 2, 3)) / plain.std(axis=(1, 2, 3))
    assert np.std(means) > 0.01 and np.std(spreads) > 0.01  # drawn per image, not one offset
    np.testing.assert_array_equal(plain, _train_images(_config(sample_dir, seed=5)))


def test_data_cache_reads_the_shards_once(sample_dir, tmp_path):
    """data.cache: the second epoch comes from memory, so it is the same records even once
    the shards are gone (and evaluation with cache gives what it gives without)."""
    import shutil

    copy = tmp_path / "digits"
    shutil.copytree(sample_dir, copy)
    # 1,437 training digits = 3 batches of 479: an epoch is exactly 3 batches.
    config = _config(str(copy), cache=True, train_batch_size=479, shuffle_buffer=2000)
    iterator = iter(pipeline.build_dataset("train", config))
    first = np.concatenate([next(iterator)[1].numpy() for _ in range(3)])
    for shard in pipeline.list_shards(str(copy), "train"):
        os.remove(shard)
    second = np.concatenate([next(iterator)[1].numpy() for _ in range(3)])
    assert not np.array_equal(first, second)  # reshuffled
    np.testing.assert_array_equal(np.sort(first), np.sort(second))  # the same records
    plain = _config(sample_dir)
    cached = _config(sample_dir, cache=True)
    for (a, x), (b, y) in zip(
        pipeline.build_dataset("validation", plain),
        pipeline.build_dataset("validation", cached),
        strict=True,
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_fewer_shards_than_input_pipelines_is_refused_naming_both(sample_dir):
    shards = len(pipeline.list_shards(sample_dir, "train"))
    hosts = shards + 1
    context = tf.distribute.InputContext(hosts, 0, hosts)
    with pytest.raises(
        ValueError,
        match=rf"{shards} shards of 'train' cannot be split over {hosts} input pipelines; "
        "write more shards",
    ):
        pipeline.build_dataset("train", _config(sample_dir, train_batch_size=4 * hosts), context)


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


def test_training_skips_and_counts_an_example_that_does_not_parse(tmp_path, photos):
    """An Example without image/encoded (another tool's record) is skipped like an
    undecodable image: parsing runs with the decoding, inside the errors it may skip."""
    good = tfrecord.encode_example(encode(photos["chelsea"]), 2, height=0, width=0)
    stray = tf.train.Example(
        features=tf.train.Features(
            feature={
                "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))
            }
        )
    ).SerializeToString()
    tfrecord.write_shard(str(tmp_path / tfrecord.shard_name("train", 0, 1)), [good, stray, good])
    config = _config(str(tmp_path), train_batch_size=1, image_size=16)
    skipped = pipeline.SkippedRecords()
    labels = [
        int(y[0]) for _, y in pipeline.build_dataset("train", config, repeat=False, skipped=skipped)
    ]
    assert labels == [1, 1] and skipped.count == 1


def test_training_keeps_the_record_order_when_it_skips(tmp_path, photos):
    """Decoding runs in parallel on chunks of DECODE_CHUNK records: the order (which the skip
    count relies on) is the records' order, across more chunks than run at once."""
    good = encode(photos["chelsea"])
    broken = encode(photos["astronaut"])[:2000]
    count = pipeline.DECODE_CHUNK * 6 + 5  # more chunks than the 4 decoded at once
    bad = {3, 7, 8, 40, 100, 101, 102, count - 1}
    records = [(broken if i in bad else good, i) for i in range(count)]
    write_records(tmp_path / tfrecord.shard_name("train", 0, 1), records)
    config = _config(str(tmp_path), train_batch_size=1, image_size=16, shuffle_buffer=1)
    skipped = pipeline.SkippedRecords()
    one_epoch = pipeline.build_dataset("train", config, repeat=False, skipped=skipped)
    labels = [int(y[0]) for _, y in one_epoch]
    # (Record 0, stored label 0, is label -1 once parsed: the sentinel's, so filtered.)
    assert labels == [i - 1 for i in range(count) if i not in bad | {0}]
    assert skipped.count == len(bad)


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
