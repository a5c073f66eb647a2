"""resnet_main.py's flags on official/train.py (docs/tpu.md): parsed in-process as a user types
them, resolved to the config. Expected values are typed from tensorflow/tpu's own sources
(models/official/resnet/resnet_main.py, configs/resnet_config.py, its README), not from ours."""

import functools
import os
import shlex

import pytest
from absl import flags

from official import train
from official.configs import recipes, tpu_flags
from official.configs.overrides import ConfigError
from tests import command_line

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def resolve(sample_dir):
    """resolve(*args) -> the config official/train.py builds from these command-line flags."""

    def run(*args, data_dir=True):
        argv = ["train.py", *args] + ([f"--data_dir={sample_dir}"] if data_dir else [])
        train.FLAGS.unparse_flags()
        try:
            train.FLAGS(argv)
            return train.resolve_config()
        finally:
            train.FLAGS.unparse_flags()

    return run


def value(config, key):
    return functools.reduce(getattr, key.split("."), config)


# (flags as typed, {config key: expected value}); the meaning of each flag is resnet_main.py's.
FLAG_TABLE = [
    (["--train_steps=500"], {"train.train_steps": 500, "train.epochs": None}),
    (["--train_batch_size=256"], {"data.train_batch_size": 256}),
    (["--eval_batch_size=100"], {"data.eval_batch_size": 100}),
    (["--iterations_per_loop=50"], {"train.steps_per_loop": 50}),
    (["--steps_per_eval=200"], {"train.eval_every_steps": 200, "train.eval_every_epochs": None}),
    (["--num_train_images=1000"], {"train.num_train_images": 1000}),
    (["--num_eval_images=100"], {"data.num_eval_images": 100}),
    (["--num_label_classes=7"], {"data.num_classes": 7, "data.label_offset": 1}),
    # 1001 classes: tensorflow/tpu keeps the stored label (class 0 = background).
    (["--num_label_classes=1001"], {"data.num_classes": 1001, "data.label_offset": 0}),
    (["--base_learning_rate=0.2"], {"optimizer.base_learning_rate": 0.2}),
    (["--momentum=0.8"], {"optimizer.momentum": 0.8}),
    (["--weight_decay=0.0002"], {"optimizer.weight_decay": 2e-4}),
    (["--label_smoothing=0.1"], {"optimizer.label_smoothing": 0.1}),
    # resnet_main.py's use_bfloat16 = (precision == 'bfloat16') also sets the images' dtype.
    (["--precision=bfloat16"], {"runtime.precision": "bfloat16", "data.dtype": "bfloat16"}),
    (["--precision=float32"], {"runtime.precision": "float32", "data.dtype": "float32"}),
    (["--resnet_depth=101"], {"model.name": "resnet101"}),
    (["--config=resnetrs50_i160", "--resnet_depth=152"], {"model.name": "resnetrs152"}),
    (["--use_tpu"], {"runtime.strategy": "tpu"}),
    (["--use_tpu=false"], {"runtime.strategy": "one_device"}),
    (["--tpu=my-tpu"], {"runtime.tpu": "my-tpu", "runtime.strategy": "tpu"}),
    (["--tpu_zone=us-central2-b"], {"runtime.tpu_zone": "us-central2-b"}),
    (["--zone=us-central2-b"], {"runtime.tpu_zone": "us-central2-b"}),
    (["--gcp_project=my-project"], {"runtime.gcp_project": "my-project"}),
    (["--project=my-project"], {"runtime.gcp_project": "my-project"}),
    (["--image_size=64"], {"data.image_size": 64}),
    (["--use_cache"], {"data.cache": True}),
    (["--augment_name=randaugment"], {"data.augmentation": "randaugment"}),
    (["--randaug_num_layers=3"], {"data.randaugment_layers": 3}),
    (["--randaug_magnitude=15"], {"data.randaugment_magnitude": 15.0}),
]


@pytest.mark.parametrize("args,expected", FLAG_TABLE, ids=lambda x: " ".join(x)[:40])
def test_each_flag_sets_its_config_key(args, expected, resolve):
    config = resolve(*args)
    for key, want in expected.items():
        assert value(config, key) == want, key


def test_eval_timeout_makes_eval_continuous_and_export_dir_is_kept():
    train.FLAGS.unparse_flags()
    try:
        train.FLAGS(["train.py", "--mode=eval", "--eval_timeout=5", "--export_dir=/tmp/e"])
        assert train.mode() == "continuous_eval" and train.FLAGS.export_dir == "/tmp/e"
        train.FLAGS.unparse_flags()
        train.FLAGS(["train.py", "--mode=eval"])
        assert train.mode() == "eval"  # without --eval_timeout: one evaluation, as before
    finally:
        train.FLAGS.unparse_flags()


# resnet_main.py's defaults (tensorflow/tpu models/official/resnet/configs/resnet_config.py and
# the flag defaults of resnet_main.py: steps_per_eval 1251, use_tpu True).
RESNET_MAIN_DEFAULTS = {
    "model.name": "resnet50",
    "data.train_batch_size": 1024,
    "data.eval_batch_size": 1024,
    "data.image_size": 224,
    "data.num_classes": 1000,
    "train.num_train_images": 1_281_167,
    "train.train_steps": 112_590,
    "train.epochs": None,
    "train.steps_per_loop": 1251,
    "train.eval_every_steps": 1251,
    "optimizer.base_learning_rate": 0.1,
    "optimizer.momentum": 0.9,
    "optimizer.weight_decay": 1e-4,
    "optimizer.label_smoothing": 0.0,
    "optimizer.ema_decay": 0.0,
    "runtime.strategy": "tpu",
}

# The ResNet-50 command lines of tensorflow/tpu models/official/resnet/README.md, verbatim.
README_TRAIN = """python resnet_main.py \\
  --tpu=$TPU_NAME \\
  --data_dir=$DATA_DIR \\
  --model_dir=$MODEL_DIR"""
README_BIGTABLE = """python resnet_main.py \\
  --tpu=$TPU_NAME \\
  --model_dir=$MODEL_DIR \\
  --bigtable_project=$PROJECT \\
  --bigtable_instance=$INSTANCE \\
  --bigtable_table=$TABLE"""
# The ML Engine job: the flags after `--` go to resnet_main.py.
README_ML_ENGINE = """    --data_dir=$DATA_DIR \\
    --model_dir=$OUTPUT_PATH \\
    --resnet_depth=50 \\
    --train_steps=1024"""


def readme_args(command, sample_dir, tmp_path):
    env = {
        "TPU_NAME": "my-tpu",
        "DATA_DIR": sample_dir,
        "MODEL_DIR": str(tmp_path),
        "OUTPUT_PATH": str(tmp_path),
        "PROJECT": "p",
        "INSTANCE": "i",
        "TABLE": "t",
    }
    words = shlex.split(command.replace("\\\n", " "))
    for name, replacement in env.items():
        words = [w.replace(f"${name}", replacement) for w in words]
    return words[2:] if words[:2] == ["python", "resnet_main.py"] else words


def test_readme_training_command_gives_resnet_main_defaults(resolve, sample_dir, tmp_path):
    config = resolve(*readme_args(README_TRAIN, sample_dir, tmp_path), data_dir=False)
    for key, want in RESNET_MAIN_DEFAULTS.items():
        assert value(config, key) == want, key
    assert config.runtime.tpu == "my-tpu" and config.data.data_dir == sample_dir


def test_readme_ml_engine_command_trains_1024_steps_of_resnet50(resolve, sample_dir, tmp_path):
    config = resolve(*readme_args(README_ML_ENGINE, sample_dir, tmp_path), data_dir=False)
    expected = {**RESNET_MAIN_DEFAULTS, "train.train_steps": 1024}
    for key, want in expected.items():
        assert value(config, key) == want, key


def test_readme_bigtable_command_names_the_left_out_flag(sample_dir, tmp_path):
    args = readme_args(README_BIGTABLE, sample_dir, tmp_path)
    train.FLAGS.unparse_flags()
    with pytest.raises(flags.UnrecognizedFlagError, match="bigtable_project"):
        train.FLAGS(["train.py", *args])
    train.FLAGS.unparse_flags()
    docs = open(os.path.join(ROOT, "docs", "tpu.md")).read()
    assert "`--bigtable_project`" in docs  # listed as left out, with the reason


def test_issue_command_line(resolve):
    config = resolve(
        *shlex.split(
            "--train_steps=112590 --train_batch_size=1024 --iterations_per_loop=1251 "
            "--precision=bfloat16 --resnet_depth=50 --tpu=my-tpu"
        )
    )
    assert (config.model.name, config.train.train_steps, config.train.epochs) == (
        "resnet50",
        112590,
        None,
    )
    assert (config.data.train_batch_size, config.train.steps_per_loop) == (1024, 1251)
    assert (config.runtime.precision, config.runtime.strategy) == ("bfloat16", "tpu")


# Every flag resnet_main.py defines (with hyperparameters/common_hparams_flags.py and
# common_tpu_flags.py): each is a flag here or listed as left out in docs/tpu.md.
RESNET_MAIN_FLAGS = """tpu gcp_project tpu_zone eval_master use_tpu data_dir model_dir
train_batch_size train_steps eval_batch_size skip_host_call iterations_per_loop precision
config_file params_override eval_after_training resnet_depth num_train_images num_eval_images
num_label_classes data_format transpose_input use_cache image_size dropblock_groups
dropblock_keep_prob dropblock_size pre_activation norm_act_layer profile_every_n_steps mode
steps_per_eval eval_timeout num_parallel_calls num_cores bigtable_project bigtable_instance
bigtable_table bigtable_train_prefix bigtable_eval_prefix bigtable_column_family
bigtable_column_qualifier export_dir export_to_tpu base_learning_rate momentum weight_decay
label_smoothing enable_lars poly_rate use_async_checkpointing log_step_count_steps augment_name
randaug_num_layers randaug_magnitude add_warmup_requests model_name inference_batch_sizes
export_moving_average""".split()


def test_every_resnet_main_flag_exists_or_is_documented_as_left_out():
    docs = open(os.path.join(ROOT, "docs", "tpu.md")).read()
    left_out = docs[docs.index("## Flags left out") :]
    for name in RESNET_MAIN_FLAGS:
        assert name in train.FLAGS or f"`--{name}`" in left_out, name
        assert f"`--{name}`" in docs, f"docs/tpu.md does not mention --{name}"


def test_flag_against_params_override_names_both(resolve):
    with pytest.raises(ConfigError) as error:
        resolve("--train_batch_size=1024", '--params_override={"data.train_batch_size": 512}')
    assert str(error.value) == (
        "--train_batch_size=1024 sets data.train_batch_size=1024 but --params_override sets "
        "data.train_batch_size=512; give the value once."
    )
    # The run length: --train_steps clears train.epochs, which the override sets.
    with pytest.raises(ConfigError, match=r"--train_steps=100 sets train.epochs=null but "):
        resolve("--train_steps=100", '--params_override={"train": {"epochs": 3}}')
    with pytest.raises(ConfigError, match=r"--strategy=cpu and --use_tpu=true set runtime.strat"):
        resolve("--strategy=cpu", "--use_tpu")
    # The same value twice is no conflict, and the tensorflow/tpu key=value form works too.
    config = resolve("--train_batch_size=64", "--params_override=train_batch_size=64,momentum=0.5")
    assert config.data.train_batch_size == 64 and config.optimizer.momentum == 0.5


def test_cli_conflict_is_one_line_and_exit_2(sample_dir, tmp_path, capsys):
    """official/train.py in this process (tests/command_line.py)."""
    argv = [
        f"--data_dir={sample_dir}",
        f"--model_dir={tmp_path}",
        "--iterations_per_loop=10",
        '--params_override={"train.steps_per_loop": 20}',
    ]
    assert command_line.train_status(argv) == 2
    assert command_line.error_line(capsys.readouterr().err) == (
        "error: --iterations_per_loop=10 sets train.steps_per_loop=10 but --params_override "
        "sets train.steps_per_loop=20; give the value once."
    )


def test_helpfull_lists_the_flags_under_their_own_heading():
    text = train.FLAGS.get_help()  # what --helpfull prints after its usage line
    section = text[text.index(tpu_flags.HEADING + ":") :].split("\n\n")[0]
    for name in (*tpu_flags.HPARAM_FLAGS, "config_file", "eval_timeout"):
        assert f"--{name}:" in section or f"--[no]{name}:" in section, name


def test_base_recipe_is_resnet_main_only_when_the_command_names_a_tpu_or_depth(resolve):
    assert resolve("--train_steps=100").model.name == recipes.get("sample").model.name
    assert resolve("--tpu=x").model.name == "resnet50"
    assert resolve("--config=nfnet_f0", "--tpu=x").model.name == "nfnet_f0"
    with pytest.raises(ConfigError, match=r"resnet_depth=50: the config's model 'nfnet_f0'"):
        resolve("--config=nfnet_f0", "--resnet_depth=50")
