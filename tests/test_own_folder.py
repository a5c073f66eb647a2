"""A user's own folder of photos, converted (official/data/build_tfrecords.py) and then trained
with no class or image counts given: the converter's dataset.json gives them, a contradicting
value is refused in one line, predict prints the class names (docs/data.md, "Train on your
own images"). In-process: tests/command_line.py."""

import json
import os

import numpy as np
import pytest

from tests import command_line

OWN_CLASSES = ("cats", "dogs", "owls")
OWN_SMALL = {
    "train.train_steps": 2,
    "train.steps_per_loop": 1,
    "data.train_batch_size": 4,
    "data.eval_batch_size": 3,
    "runtime.precision": "float32",
}


@pytest.fixture(scope="module")
def own_images(tmp_path_factory):
    """(converted data_dir, raw folder): train/<class>/ 4 JPEGs and validation/<class>/ 1, tiny
    real JPEGs of one colour per class, converted in this process with the default shard counts."""
    from PIL import Image

    from official.data import build_tfrecords

    root = tmp_path_factory.mktemp("own")
    noise = np.random.default_rng(0)
    for c, name in enumerate(OWN_CLASSES):
        for split, count in (("train", 4), ("validation", 1)):
            folder = root / "raw" / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = np.full((24, 24, 3), 40, np.uint8)
                pixels[..., c] = 220
                pixels = pixels + noise.integers(0, 20, pixels.shape, dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{name}{i}.jpg", quality=90)
    out = root / "tfrecords"
    argv = [f"--input_dir={root / 'raw'}", f"--output_dir={out}", "--num_workers=1"]
    values, _ = command_line.program_flags(build_tfrecords, argv)
    assert build_tfrecords.run(values) == 0
    return str(out), str(root / "raw")


def test_own_folder_converts_with_shards_for_its_size_and_records_its_classes(own_images):
    from official.data import dataset_record

    data_dir, _ = own_images
    # 12 and 3 images, one shard per 1,250: one shard each (the old defaults, 1024 / 128,
    # gave 12 one-image shards and 3)
    assert sorted(n for n in os.listdir(data_dir) if "-of-" in n) == [
        "train-00000-of-00001",
        "validation-00000-of-00001",
    ]
    record = dataset_record.read(data_dir)
    assert record.classes == list(OWN_CLASSES)
    assert record.examples == {"train": 12, "validation": 3}


@pytest.mark.slow  # trains and predicts
def test_own_folder_trains_as_its_classes_and_predict_prints_their_names(
    own_images, tmp_path, capsys, caplog, float32_afterwards
):
    import logging

    from official import predict
    from official.configs import overrides, recipes

    data_dir, raw = own_images
    run_dir = tmp_path / "run"
    argv = [f"--data_dir={data_dir}", f"--model_dir={run_dir}", "--mode=train"]
    override = f"--params_override={json.dumps(OWN_SMALL)}"
    with caplog.at_level(logging.INFO, logger="official"):
        assert command_line.train_status([*argv, override]) == 0, capsys.readouterr().err
    filled = [r.getMessage() for r in caplog.records if "dataset.json" in r.getMessage()]
    assert filled == [
        f"data.num_classes=3, train.num_train_images=12 from {data_dir}/dataset.json "
        "(cats, dogs, owls)"
    ]
    # the recipe's own values (the digits') are not what the run records
    recipe = recipes.get("sample")
    assert (recipe.data.num_classes, recipe.train.num_train_images) == (10, 1437)
    record = overrides.load_config(str(run_dir / "params.yaml"))
    assert (record.data.num_classes, record.train.num_train_images) == (3, 12)

    # eval and export read the run's own config: no --config, so the record is not re-read
    from official import train
    from official.training import jobs
    from official.training import run_dir as run_directory

    with command_line.parsed_train_flags([f"--model_dir={run_dir}", "--mode=eval"]):
        config = jobs.settle_config(train.arguments(), run_directory.RunDirectory(str(run_dir)))
    assert (config.data.num_classes, config.train.num_train_images) == (3, 12)

    capsys.readouterr()
    values, paths = command_line.program_flags(
        predict, [f"--model={run_dir}", "--top_k=5", f"{raw}/validation/owls"]
    )
    assert predict.run(values, paths) == 0
    out, err = capsys.readouterr()
    (line,) = out.splitlines()
    assert line.startswith(f"{raw}/validation/owls/owls0.jpg: ")
    shown = [word for word in line.split(": ", 1)[1].replace(",", "").split() if word.isalpha()]
    assert sorted(shown) == sorted(OWN_CLASSES)  # 3 classes, by name; top-5 capped at 3
    assert "note:" not in err


@pytest.mark.parametrize(
    "setting,message",
    [
        (
            {"data.num_classes": 10},
            "error: data.num_classes=10 but {d}/dataset.json records 3 classes (cats, dogs, "
            "owls): drop the override",
        ),
        (
            {"train": {"num_train_images": 1437}},
            "error: train.num_train_images=1437 but {d}/dataset.json records 12 'train' examples",
        ),
        (
            {"data.num_eval_images": 50},
            "error: data.num_eval_images=50 but {d}/dataset.json records 3 'validation' examples",
        ),
    ],
)
def test_own_folder_refuses_a_config_that_contradicts_its_record(
    setting, message, own_images, tmp_path, capsys
):
    data_dir, _ = own_images
    argv = [f"--data_dir={data_dir}", f"--model_dir={tmp_path}", "--mode=train"]
    assert command_line.train_status([*argv, f"--params_override={json.dumps(setting)}"]) == 2
    assert command_line.error_line(capsys.readouterr().err).startswith(message.format(d=data_dir))
    assert not os.path.exists(tmp_path / "params.yaml")


def test_own_folder_accepts_the_recorded_values_and_tensorflow_tpu_flags(own_images, tmp_path):
    """A value equal to the record's is accepted, whichever way it is given."""
    from official import train
    from official.training import jobs

    data_dir, _ = own_images
    for flags in (
        ['--params_override={"data": {"num_classes": 3}}'],
        ["--num_label_classes=3", "--num_train_images=12"],
    ):
        argv = [f"--data_dir={data_dir}", f"--model_dir={tmp_path}", "--config=sample", *flags]
        with command_line.parsed_train_flags(argv):
            config = jobs.resolve_config(train.arguments())
        assert (config.data.num_classes, config.train.num_train_images) == (3, 12)
    with command_line.parsed_train_flags([f"--data_dir={data_dir}", "--num_label_classes=4"]):
        with pytest.raises(ValueError, match="data.num_classes=4 but .* records 3 classes"):
            jobs.resolve_config(train.arguments())
