"""official/data/dataset_record.py: the record a converter writes, and what it fills in or refuses
in a config (the whole command: tests/test_train_cli.py, "A user's own folder")."""

import pytest

from official.configs import recipes
from official.configs.overrides import ConfigError
from official.data import dataset_record

CLASSES = ["cats", "dogs", "owls"]


@pytest.fixture
def record(tmp_path):
    dataset_record.write(str(tmp_path), CLASSES, 1, {"train": 12, "validation": 3})
    return dataset_record.read(str(tmp_path))


def test_written_record_reads_back_and_a_folder_without_one_has_none(record, tmp_path):
    assert record == dataset_record.DatasetRecord(
        f"{tmp_path}/dataset.json", CLASSES, 1, {"train": 12, "validation": 3}
    )
    assert dataset_record.read(str(tmp_path / "elsewhere")) is None
    assert dataset_record.read("") is None
    (tmp_path / "dataset.json").write_text('{"classes": ["a"]}')
    with pytest.raises(ConfigError, match=r"dataset.json is not a dataset record \(KeyError"):
        dataset_record.read(str(tmp_path))


def test_settle_fills_what_is_not_given_and_keeps_what_is(record):
    config = recipes.get("sample")  # 10 classes, 1437 images: the digits
    dataset_record.settle(config, record, given=set())
    assert (config.data.num_classes, config.train.num_train_images) == (3, 12)
    config = recipes.get("sample")
    config.train.num_train_images = 12
    dataset_record.settle(config, record, given={"train.num_train_images"})
    assert (config.data.num_classes, config.train.num_train_images) == (3, 12)


def test_label_offset_zero_counts_the_unused_class_below_the_stored_labels(record):
    """tensorflow/tpu's 1001 classes: ImageNet's 1-based labels read with label_offset 0."""
    config = recipes.get("sample")
    config.data.label_offset = 0
    dataset_record.settle(config, record, given=set())
    assert config.data.num_classes == 4
    config.data.num_classes = 3
    with pytest.raises(ConfigError, match=r"records 3 classes \(cats, dogs, owls\), 4 outputs "):
        dataset_record.settle(config, record, given={"data.num_classes"})


def test_pseudo_labels_leave_the_train_count_to_the_config(record):
    config = recipes.get("sample")
    config.data.pseudo_label_dir = "/somewhere/pseudo"
    config.train.num_train_images = 500  # the train split and the pseudo-labeled shards
    dataset_record.settle(config, record, given={"train.num_train_images"})
    assert (config.data.num_classes, config.train.num_train_images) == (3, 500)


def test_many_class_names_are_shown_shortened(tmp_path):
    dataset_record.write(str(tmp_path), [f"c{i}" for i in range(7)], 1, {"train": 7})
    assert dataset_record.read(str(tmp_path)).shown_classes() == "c0, c1, c2, c3, c4, ..."
