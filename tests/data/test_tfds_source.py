"""`tfds:<name>` sources: a real (tiny) TFDS dataset prepared offline in a temporary data_dir."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from official.configs import DataConfig
from official.data import pipeline


class TinyPhotos(tfds.core.GeneratorBasedBuilder):
    """Six scikit-image photos in two classes; generated locally, nothing downloads."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(encoding_format="jpeg"),
                    "label": tfds.features.ClassLabel(num_classes=2),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(6), "test": self._generate_examples(2)}

    def _generate_examples(self, n):
        from skimage import data

        photos = [data.chelsea(), data.coffee(), data.rocket()]
        for i in range(n):
            yield i, {"image": photos[i % 3], "label": i % 2}


def test_tfds_source_gives_the_same_element_format(tmp_path):
    TinyPhotos(data_dir=str(tmp_path)).download_and_prepare()
    config = DataConfig(
        source="tfds:tiny_photos",
        data_dir=str(tmp_path),
        eval_split="test",
        num_classes=2,
        image_size=32,
        train_batch_size=4,
        eval_batch_size=4,
        augmentation="randaugment",
        shuffle_buffer=8,
    )
    images, labels = next(iter(pipeline.build_dataset("train", config)))
    assert images.shape == (4, 32, 32, 3) and labels.dtype == "int32"
    assert set(labels.numpy()) <= {0, 1}
    eval_labels = np.concatenate([y for _, y in pipeline.build_dataset("test", config)])
    np.testing.assert_array_equal(sorted(eval_labels), [0, 1])  # tfds labels are 0-based


def test_unprepared_tfds_dataset_is_not_downloaded(tmp_path):
    config = DataConfig(source="tfds:tiny_photos", data_dir=str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="'tiny_photos' is not prepared"):
        pipeline.build_dataset("train", config)
