"""tensorflow/tpu hparams files read by --config_file (docs/tpu.md). The YAML below is the content
of tensorflow/tpu's files at commit 7dc921f (models/official/resnet/configs/cloud/*.yaml and
resnet_rs/configs/resnetrs50_i160.yaml), typed in as data."""

import pytest

from official import train
from official.configs import recipes, tpu_hparams
from official.configs.overrides import ConfigError

V3_8 = """train_steps: 113854
train_batch_size: 1024
eval_batch_size: 1024
iterations_per_loop: 113854
skip_host_call: True
num_cores: 8
"""
RANDAUGMENT_8 = """resnet_depth: 50
train_steps: 225216
train_batch_size: 1024
eval_batch_size: 1024
iterations_per_loop: 1000
num_cores: 8
skip_host_call: True
augment_name: 'randaugment'
randaug_num_layers: 2
randaug_magnitude: 9
"""
V3_1024 = """# DISCLAIMER: These parameters have not been optimized
train_steps: 3558
train_batch_size: 32768
eval_batch_size: 1024
iterations_per_loop: 3558
skip_host_call: True
num_cores: 1024
enable_lars: True
label_smoothing: 0.1
"""
RESNETRS50_I160 = """augment_name: randaugment
base_learning_rate: 0.1
data_format: channels_last
drop_connect_rate: null
dropout_rate: 0.25
eval_batch_size: 200
image_size: 160
label_smoothing: 0.1
momentum: 0.9
num_eval_images: 50000
num_label_classes: 1000
num_train_images: 1281167
precision: bfloat16
randaug_magnitude: 10
randaug_num_layers: 2
replace_stem_max_pool: True
resnet_depth: 50
resnetd_shortcut: True
se_ratio: 0.25
train_batch_size: 4096
train_steps: 109475
transpose_input: True
use_resnetd_stem: True
use_tpu: True
weight_decay: 4.0e-05
moving_average_decay: 0.9999
bn_momentum: 0
"""


@pytest.fixture
def with_config_file(sample_dir, tmp_path):
    def run(text, *args):
        path = tmp_path / "hparams.yaml"
        path.write_text(text)
        train.FLAGS.unparse_flags()
        try:
            train.FLAGS(["train.py", f"--config_file={path}", f"--data_dir={sample_dir}", *args])
            return train.resolve_config()
        finally:
            train.FLAGS.unparse_flags()

    return run


def test_v3_8_file_over_resnet_main_defaults(with_config_file):
    config = with_config_file(V3_8)
    assert config.model.name == "resnet50"  # a tensorflow/tpu file starts from resnet_main.py
    assert (config.train.train_steps, config.train.epochs) == (113854, None)
    assert config.train.steps_per_loop == 113854
    assert (config.data.train_batch_size, config.data.eval_batch_size) == (1024, 1024)
    assert config.runtime.strategy == "tpu"


def test_randaugment_file(with_config_file):
    config = with_config_file(RANDAUGMENT_8)
    assert (config.data.augmentation, config.data.randaugment_layers) == ("randaugment", 2)
    assert config.data.randaugment_magnitude == 9.0 and config.train.train_steps == 225216


def test_resnet_rs_file_equals_this_librarys_recipe(with_config_file):
    """tensorflow/tpu's resnetrs50_i160.yaml and recipes.resnetrs50_i160 (written from the
    ResNet-RS paper) are independent sources of the same run."""
    theirs = with_config_file(RESNETRS50_I160)
    ours = recipes.get("resnetrs50_i160")
    assert theirs.model.name == ours.model.name == "resnetrs50"
    for key in ("dropout_rate", "stochastic_depth_rate", "bn_momentum"):
        assert theirs.model.kwargs[key] == ours.model.kwargs[key], key
    for group, keys in {
        "data": ("image_size", "train_batch_size", "augmentation", "randaugment_layers"),
        "optimizer": ("base_learning_rate", "momentum", "weight_decay", "label_smoothing"),
    }.items():
        for key in keys:
            assert getattr(getattr(theirs, group), key) == getattr(getattr(ours, group), key), key
    assert theirs.data.randaugment_magnitude == ours.data.randaugment_magnitude == 10
    assert theirs.optimizer.ema_decay == ours.optimizer.ema_decay == 0.9999
    batch = 4096
    assert theirs.train.total_steps(batch) == ours.train.total_steps(batch) == 109475
    assert theirs.data.eval_batch_size == 200 and theirs.data.num_eval_images == 50000


def test_refused_values_name_the_key(with_config_file):
    with pytest.raises(ConfigError, match=r"^enable_lars=True is not supported: LARS is not "):
        with_config_file(V3_1024)
    with pytest.raises(ConfigError, match=r"^pre_activation=True is not supported"):
        with_config_file("resnet_depth: 50\npre_activation: true\n")
    with pytest.raises(ConfigError, match=r"'train_batch_sise' is not a tensorflow/tpu ResNet"):
        with_config_file("train_batch_sise: 8\nnum_cores: 8\n")


def test_own_keys_in_config_file_and_mixed_forms(with_config_file):
    config = with_config_file("train:\n  train_steps: 30\n")  # this library's form, over sample
    assert config.model.name == recipes.get("sample").model.name
    assert (config.train.train_steps, config.train.epochs) == (30, None)
    with pytest.raises(ConfigError, match=r"'train_steps' is a tensorflow/tpu hparam and 'data"):
        with_config_file("train_steps: 30\ndata.image_size: 64\n")


def test_flags_override_the_config_file_like_resnet_main(with_config_file):
    config = with_config_file(V3_8, "--train_batch_size=512")
    assert config.data.train_batch_size == 512


def test_parse_text_forms():
    assert tpu_hparams.parse_text("train_batch_size=512, precision=float32") == {
        "train_batch_size": 512,
        "precision": "float32",
    }
    assert tpu_hparams.parse_text('{"train.epochs": 2}') == {"train.epochs": 2}
    with pytest.raises(ConfigError, match="'oops' is not key=value"):
        tpu_hparams.parse_text("a=1,oops")
